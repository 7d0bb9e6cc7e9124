"""Legacy word-processor files (.doc, .rtf, .odt) converted to .docx by LibreOffice, headless.

Only with --convert-legacy and when LibreOffice is installed; otherwise such files are reported as
"unsupported format", never skipped in silence. This module only converts: kbcli.readers.dispatch
hands the result to the DOCX reader.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from kbcli.readers.types import DAMAGED, TIMED_OUT, UNREADABLE, UNSUPPORTED, FileFailure, ReadOptions


def find_soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def _unlimit_memory() -> None:
    # The reader process caps its own address space; LibreOffice maps far more than it uses.
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))


def convert_to_docx(path: Path, options: ReadOptions) -> bytes:
    kind = path.suffix.lower().lstrip(".") or "file"
    if not options.convert_legacy:
        raise FileFailure(UNSUPPORTED, f"a legacy .{kind} file: pass --convert-legacy (needs LibreOffice) to index it")
    program = find_soffice()
    if program is None:
        raise FileFailure(UNSUPPORTED, f"a legacy .{kind} file: LibreOffice (soffice) is not installed to convert it")
    with tempfile.TemporaryDirectory(prefix="kbcli-convert-") as tmp:
        work = Path(tmp)
        source = work / f"input{path.suffix.lower()}"  # a plain name: no quoting surprises
        try:
            shutil.copyfile(path, source)
        except FileNotFoundError as err:
            raise FileFailure(UNREADABLE, "vanished before it could be read") from err
        except OSError as err:
            raise FileFailure(UNREADABLE, err.strerror or str(err)) from err
        command = [
            program, "--headless", "--norestore", "--nolockcheck", "--nodefault",
            f"-env:UserInstallation={(work / 'profile').as_uri()}",
            "--convert-to", "docx", "--outdir", str(work / "out"), str(source),
        ]
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True, preexec_fn=_unlimit_memory
        )
        try:
            _, stderr = process.communicate(timeout=options.timeout)
        except subprocess.TimeoutExpired as err:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise FileFailure(TIMED_OUT, f"LibreOffice did not convert it within {options.timeout:g} s") from err
        converted = work / "out" / "input.docx"
        if not converted.is_file():
            message = stderr.decode("utf-8", "replace").strip().splitlines()
            raise FileFailure(DAMAGED, "LibreOffice could not convert it" + (f" ({message[-1]})" if message else ""))
        return converted.read_bytes()

