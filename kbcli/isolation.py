"""Reading each file in a separate worker process, with a time limit and a memory cap.

A hostile or broken file can hang a parser, exhaust memory or crash it (a segfault in C code).
None of that may touch the run: files are parsed in one long-lived worker process (started with
a fresh interpreter, so it shares nothing with the parent), whose address space is capped with
RLIMIT_AS. The parent waits at most the time limit for each file; a worker that is too slow is
killed and a fresh one started for the next file; a worker that dies is reported the same way.
The worker sends back a `Document` or a `FileFailure`; nothing else crosses the pipe.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import kbcli
from kbcli.readers import DAMAGED, TIMED_OUT, TOO_LARGE, UNREADABLE, Document, FileFailure, ReadOptions
from kbcli.settings import child_environment

_STARTUP_SECONDS = 120.0  # importing the parsers in a fresh interpreter, on a slow disk


def _serve(conn, max_memory: int) -> None:
    """The worker's loop: (path, options) in, ("ok", Document) or ("fail", reason, detail) out."""
    import resource

    if max_memory > 0:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (max_memory, hard))
    _silence_stdio()  # MuPDF and Tesseract write warnings straight to fd 2
    from kbcli.readers import read_document

    try:
        import pymupdf

        pymupdf.TOOLS.mupdf_display_errors(False)
        pymupdf.TOOLS.mupdf_display_warnings(False)
        import docx  # noqa: F401  (warm: the first Word file should not pay for the import)
    except Exception:
        pass
    conn.send(("ready",))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        if job is None:
            return
        path, options = job
        try:
            conn.send(("ok", read_document(path, options)))
        except FileFailure as failure:
            conn.send(("fail", failure.reason, failure.detail))
        except MemoryError:
            conn.send(("fail", TOO_LARGE, f"reading it needs more than {max_memory // 2**20} MiB of memory"))
        except RecursionError:
            conn.send(("fail", DAMAGED, "nested too deeply to read"))
        except Exception as err:  # a parser bug or an exotic file
            conn.send(("fail", DAMAGED, f"{type(err).__name__}: {err}"))


def _main(read_fd: int, write_fd: int, max_memory: int) -> None:
    """Entry point of the worker interpreter (see IsolatedReader._start)."""
    from multiprocessing.connection import Connection

    _serve(_Duplex(Connection(read_fd, writable=False), Connection(write_fd, readable=False)), max_memory)


class _Duplex:
    """Two one-way pipes used as one connection."""

    def __init__(self, incoming, outgoing) -> None:
        self.incoming, self.outgoing = incoming, outgoing

    def send(self, obj) -> None:
        self.outgoing.send(obj)

    def recv(self):
        return self.incoming.recv()

    def poll(self, timeout: float) -> bool:
        return self.incoming.poll(timeout)

    def close(self) -> None:
        self.incoming.close()
        self.outgoing.close()


def _silence_stdio() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)


def _death(exitcode: int | None, max_memory: int) -> FileFailure:
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name if -exitcode in signal.Signals._value2member_map_ else str(-exitcode)
        if -exitcode == signal.SIGKILL:
            return FileFailure(TOO_LARGE, "the reader was killed (SIGKILL), most likely out of memory")
        if -exitcode == signal.SIGABRT:
            return FileFailure(DAMAGED, f"the parser aborted (SIGABRT), possibly out of memory (cap {max_memory // 2**20} MiB)")
        return FileFailure(DAMAGED, f"the parser crashed ({name})")
    return FileFailure(DAMAGED, f"the parser exited unexpectedly (exit code {exitcode})")


class IsolatedReader:
    """Reads files in a worker process; reuse one for many files (the worker stays warm)."""

    def __init__(self, options: ReadOptions | None = None) -> None:
        self.options = options or ReadOptions()
        self._process = None
        self._conn = None
        self._pending: tuple[Path, Exception | None, float] | None = None  # path, early failure, sent at
        self.restarts = 0

    def __enter__(self) -> "IsolatedReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def worker_pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def _alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _start(self) -> None:
        """A fresh interpreter running `_serve`, talking over two pipes. Not multiprocessing's
        spawn: that re-imports the caller's main script, which any embedding program may break."""
        import subprocess
        import sys
        from multiprocessing.connection import Connection

        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        package_root = str(Path(kbcli.__file__).resolve().parents[1])  # this kbcli, wherever it lives
        env = child_environment(python_path=package_root)
        code = f"from kbcli.isolation import _main; _main({to_child_r}, {from_child_w}, {self.options.max_memory})"
        try:
            process = subprocess.Popen(
                [sys.executable, "-c", code], pass_fds=(to_child_r, from_child_w), env=env,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        conn = _Duplex(Connection(from_child_r, writable=False), Connection(to_child_w, readable=False))
        self._process, self._conn = process, conn
        if not conn.poll(_STARTUP_SECONDS):
            self._stop(kill=True)
            raise RuntimeError("the reader process did not start")
        try:
            conn.recv()  # ("ready",)
        except (EOFError, OSError) as err:
            code = process.wait()
            self._stop(kill=True)
            raise RuntimeError(f"the reader process failed to start (exit code {code})") from err

    def _stop(self, kill: bool) -> None:
        process, conn = self._process, self._conn
        self._process = self._conn = None
        self._pending = None
        if process is None:
            return
        if kill:
            process.kill()
        else:
            try:
                conn.send(None)
            except OSError:
                pass
        try:
            process.wait(5)
        except Exception:
            process.kill()
            process.wait()
        conn.close()

    def close(self) -> None:
        self._stop(kill=self._pending is not None)  # an abandoned read-ahead is not waited for

    def read(self, path: Path) -> Document:
        """The document, or FileFailure with a reason from the documented set."""
        self.submit(path)
        return self.result(path)

    def submit(self, path: Path) -> None:
        """Start reading `path` in the worker and return at once; `result(path)` collects it. The
        caller embeds one file while the worker parses the next. One file at a time."""
        if self._pending is not None:
            raise RuntimeError(f"{self._pending[0]} is still being read")
        try:
            self._check_size(path)
            if not self._alive():
                if self._process is not None:
                    self._stop(kill=True)
                self._start()
            assert self._conn is not None
            self._conn.send((path, self.options))
        except Exception as err:  # raised by result(), where the caller expects it
            self._pending = (path, err, 0.0)
            return
        self._pending = (path, None, time.monotonic())

    def pending(self) -> Path | None:
        return self._pending[0] if self._pending is not None else None

    def result(self, path: Path) -> Document:
        if self._pending is None or self._pending[0] != path:
            raise RuntimeError(f"{path} was not submitted")
        _, early, sent = self._pending
        self._pending = None
        if early is not None:
            raise early
        assert self._conn is not None and self._process is not None
        # the time limit runs from the moment the worker got the file, not from this call
        if not self._conn.poll(max(0.0, self.options.timeout - (time.monotonic() - sent))):
            self._stop(kill=True)
            self.restarts += 1
            raise FileFailure(TIMED_OUT, f"reading took longer than {self.options.timeout:g} s (--timeout); stopped")
        try:
            message = self._conn.recv()
        except (EOFError, OSError):
            try:
                exitcode = self._process.wait(5)
            except Exception:
                exitcode = None
            failure = _death(exitcode, self.options.max_memory)
            self._stop(kill=True)
            self.restarts += 1
            raise failure from None
        if message[0] == "ok":
            return message[1]
        raise FileFailure(message[1], message[2])

    def _check_size(self, path: Path) -> None:
        try:
            size = path.stat().st_size
        except FileNotFoundError as err:
            raise FileFailure(UNREADABLE, "vanished before it could be read") from err
        except OSError as err:
            raise FileFailure(UNREADABLE, err.strerror or str(err)) from err
        limit = self.options.max_file_size
        if limit and size > limit:
            raise FileFailure(TOO_LARGE, f"{size / 2**20:,.1f} MiB is over the {limit / 2**20:,.0f} MiB limit (--max-file-size)")
