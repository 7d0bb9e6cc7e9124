"""Waiting for a `kbcli serve` process the test started (shared by the HTTP API tests)."""

from __future__ import annotations

import subprocess
import time

import httpx


def wait_until_serving(process: subprocess.Popen, base: str, seconds: float = 120) -> None:
    """Return once `base`/healthz answers 200; fail with the server's stderr if it exits first."""
    deadline = time.monotonic() + seconds
    while True:
        assert process.poll() is None, process.stderr.read() if process.stderr else "exited"
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.3)
