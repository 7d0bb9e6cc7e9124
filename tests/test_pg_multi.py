"""Several machines on one PostgreSQL store: readers and a writer as separate processes against
one real server (tests/pg_server.py). Queries never fail while a refresh writes, and every reader,
short-lived (`kbcli query` in a loop) or long-lived (`kbcli shell`), sees the new commit."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import ROOT, SAMPLE_DOCS

QUESTION = "Which supplier delivers the zephyrine roof tiles?"
NEW_FILE = "zephyrine_supplier_memo.txt"
DEADLINE = 240.0  # seconds for the whole exercise on a loaded 2-core machine


def _kbcli(*args: str) -> list[str]:
    return [sys.executable, "-m", "kbcli", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}  # KBCLI_HOME and KBCLI_CACHE: the test's


@dataclass
class Reader:
    """`kbcli query` run again and again, as a script on another machine would."""

    url: str
    prefix: tuple[str, ...] = ()  # how to run it on its host (a network namespace), or here
    runs: list[tuple[float, float, int, str | None]] = field(default_factory=list)  # start, end, exit, top file
    problems: list[str] = field(default_factory=list)

    def loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            started = time.monotonic()
            done = subprocess.run([*self.prefix, *_kbcli("query", "zephyr", QUESTION, "--json", "--store", self.url)],
                                  capture_output=True, text=True, env=_env(), timeout=120)
            top = None
            if done.returncode == 0:
                hits = json.loads(done.stdout)["hits"]
                top = Path(hits[0]["file"]).name if hits else None
                if not hits:
                    self.problems.append("no hits")
            else:
                self.problems.append(done.stderr.strip())
            self.runs.append((started, time.monotonic(), done.returncode, top))

    def saw_new_file(self) -> bool:
        return any(top == NEW_FILE for *_, top in self.runs)


def _new_documents(folder: Path) -> None:
    """The file the readers look for, and enough others that the refresh takes a while."""
    (folder / NEW_FILE).write_text(
        "Supplier memo. From March the zephyrine roof tiles are delivered by Harrowgate Ceramics of Leeds,"
        " replacing the previous supplier; orders go through the facilities desk.\n"
    )
    for n in range(6):
        lines = [f"Maintenance log {n}, entry {i}: the pump in hall {i % 7} was inspected, its filter replaced"
                 f" and the pressure noted as {100 + i * n % 37} kPa." for i in range(80)]
        (folder / f"maintenance_log_{n:02d}.txt").write_text("\n".join(lines) + "\n")


def test_readers_keep_answering_during_a_refresh_and_see_its_commit(cli, pg_url: str, tmp_path: Path) -> None:
    _exercise(cli, tmp_path, pg_url, [Reader(pg_url), Reader(pg_url)], (pg_url, ()))


def test_readers_on_other_hosts_over_tcp(cli, tmp_path: Path) -> None:
    """The same with each reader on a host of its own: a network namespace whose only link is a
    veth pair to the server's machine, where PostgreSQL listens on TCP (tests/netns.py)."""
    import netns

    why = netns.unavailable()
    if why:
        pytest.skip(why)
    with netns.hosts(3) as hosts, netns.tcp_server([h.server_side for h in hosts]) as template:
        here = template.format(host=hosts[0].server_side)
        readers = [Reader(template.format(host=h.server_side), tuple(h.command())) for h in hosts[:2]]
        shell_host = hosts[2]
        for reader in readers:  # nothing else is reachable from a reader's host
            blocked = subprocess.run([*reader.prefix, sys.executable, "-c", _CONNECT, hosts[2].server_side],
                                     capture_output=True, text=True)
            assert blocked.returncode == 0 and blocked.stdout.strip() == "unreachable", blocked.stdout + blocked.stderr
        _exercise(cli, tmp_path, here, readers, (template.format(host=shell_host.server_side), tuple(shell_host.command())))


_CONNECT = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], 9), timeout=2)
    print("reachable")
except OSError as err:
    print("unreachable" if err.errno in (101, 113, None) or isinstance(err, socket.timeout) else f"other {err}")
"""


def _exercise(cli, tmp_path: Path, writer_url: str, readers: list[Reader], shell_at: tuple[str, tuple[str, ...]]) -> None:
    """Index, start the readers and a shell, refresh with new files, and check what they saw."""
    docs = tmp_path / "docs"
    shutil.copytree(SAMPLE_DOCS, docs)
    cli("index", docs, "--name", "zephyr", "--store", writer_url, "--quiet")
    stop = threading.Event()
    threads = [threading.Thread(target=r.loop, args=(stop,), daemon=True) for r in readers]
    shell_url, shell_prefix = shell_at
    shell = subprocess.Popen([*shell_prefix, *_kbcli("shell", "zephyr", "--json", "--top-k", "1", "--store", shell_url)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    try:
        for thread in threads:
            thread.start()
        assert _shell_top(shell) != NEW_FILE  # not there yet
        _new_documents(docs)
        began = time.monotonic()
        refresh = subprocess.Popen(_kbcli("refresh", "zephyr", "--json", "--store", writer_url),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
        shell_during = []
        while refresh.poll() is None:
            shell_during.append(_shell_top(shell))  # raises if the shell stops answering
            time.sleep(0.2)
        ended = time.monotonic()
        out, err = refresh.communicate()
        assert refresh.returncode == 0, err
        assert json.loads(out)["added"] == 7
        shell_answers = [_shell_top(shell)]
        deadline = time.monotonic() + DEADLINE
        while not all(r.saw_new_file() for r in readers) and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=150)
        shell.stdin.close()  # type: ignore[union-attr]
        shell.wait(timeout=60)
    assert shell.returncode == 0, shell.stderr.read()  # type: ignore[union-attr]
    assert shell_during and None not in shell_during  # answered all through the refresh
    assert shell_answers == [NEW_FILE]  # the long-lived reader follows the commit
    for reader in readers:
        assert reader.problems == [] and all(code == 0 for _, _, code, _ in reader.runs)
        assert reader.saw_new_file(), reader.runs
    during = [run for r in readers for run in r.runs if run[1] > began and run[0] < ended]
    assert during, f"no query overlapped the refresh ({ended - began:.1f}s): the test proved nothing"


def _shell_top(shell: subprocess.Popen) -> str | None:
    """Ask the running shell the question; the file of its first hit."""
    shell.stdin.write(QUESTION + "\n")  # type: ignore[union-attr]
    shell.stdin.flush()  # type: ignore[union-attr]
    answer = json.loads(shell.stdout.readline())  # type: ignore[union-attr]
    hits = answer["hits"]
    return Path(hits[0]["file"]).name if hits else None
