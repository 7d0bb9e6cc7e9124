"""Loaded by Python at start-up (via PYTHONPATH) in tests: any network connection is recorded and refused."""

import os
import socket

_LOG = os.environ.get("KBCLI_NETGUARD_LOG")
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _refuse(self, address, *args):  # type: ignore[no-untyped-def]
    if self.family in (socket.AF_INET, socket.AF_INET6):
        if _LOG:
            with open(_LOG, "a") as fh:
                fh.write(f"{address!r}\n")
        raise OSError("network access attempted during an offline test")
    return _real_connect(self, address, *args)


socket.socket.connect = _refuse  # type: ignore[method-assign]
socket.socket.connect_ex = _refuse  # type: ignore[method-assign]
_real_getaddrinfo = socket.getaddrinfo


def _refuse_lookup(host, *args, **kwargs):  # type: ignore[no-untyped-def]
    if host not in (None, "localhost", "127.0.0.1", "::1") and _LOG:
        with open(_LOG, "a") as fh:
            fh.write(f"lookup {host!r}\n")
    return _real_getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _refuse_lookup
