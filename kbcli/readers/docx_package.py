"""Opening a Word package safely, before python-docx sees it.

We check what the file really is: an encrypted package (a CFB/OLE container, decrypted with
msoffcrypto-tool when a password is given), a legacy .doc under a .docx name (NeedsConversion:
the dispatcher converts it), a zip that would unpack to more than we allow, or a broken zip.
Templates (.dotx content type), macro-enabled files and ISO Strict OOXML are read from a patched
in-memory copy. XML is parsed with entity resolution and network access off.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import IO

from kbcli.readers.types import DAMAGED, ENCRYPTED, TOO_LARGE, UNREADABLE, UNSUPPORTED, FileFailure, NeedsConversion, ReadOptions

CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# A real Word file's XML is a few MB; python-docx holds every part in memory, lxml builds a tree.
MAX_XML_BYTES = 256 * 1024 * 1024
MAX_UNPACKED_BYTES = 1024 * 1024 * 1024

_DOCUMENT_TYPE = b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
_OTHER_MAIN_TYPES = (
    b"application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml",
    b"application/vnd.ms-word.document.macroEnabled.main+xml",
    b"application/vnd.ms-word.template.macroEnabledTemplate.main+xml",
)
# ISO 29500 Strict names → the Transitional names python-docx knows (same elements, other URIs).
_STRICT_NAMESPACES = {
    b"http://purl.oclc.org/ooxml/wordprocessingml/main": b"http://schemas.openxmlformats.org/wordprocessingml/2006/main",
    b"http://purl.oclc.org/ooxml/officeDocument/relationships": b"http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    b"http://purl.oclc.org/ooxml/drawingml/main": b"http://schemas.openxmlformats.org/drawingml/2006/main",
    b"http://purl.oclc.org/ooxml/drawingml/wordprocessingDrawing": b"http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing",
    b"http://purl.oclc.org/ooxml/drawingml/picture": b"http://schemas.openxmlformats.org/drawingml/2006/picture",
    b"http://purl.oclc.org/ooxml/officeDocument/math": b"http://schemas.openxmlformats.org/officeDocument/2006/math",
    b"http://purl.oclc.org/ooxml/officeDocument/sharedTypes": b"http://schemas.openxmlformats.org/officeDocument/2006/sharedTypes",
    b"http://purl.oclc.org/ooxml/officeDocument/extendedProperties": b"http://schemas.openxmlformats.org/officeDocument/2006/extended-properties",
    b"http://purl.oclc.org/ooxml/officeDocument/customProperties": b"http://schemas.openxmlformats.org/officeDocument/2006/custom-properties",
    b"http://purl.oclc.org/ooxml/officeDocument/docPropsVTypes": b"http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes",
}


def safe_xml_parser():
    """lxml parser that never expands entities, loads a DTD or touches the network."""
    from lxml import etree

    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


# -- what the file really is ----------------------------------------------------------------------
def _read_head(path: Path) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(8)
    except FileNotFoundError as err:
        raise FileFailure(UNREADABLE, "vanished before it could be read") from err
    except OSError as err:
        raise FileFailure(UNREADABLE, err.strerror or str(err)) from err


def _open_cfb(path: Path, options: ReadOptions) -> IO[bytes]:
    """An OLE container under a .docx name: an encrypted package, or a legacy .doc."""
    import olefile

    try:
        with olefile.OleFileIO(str(path)) as ole:
            streams = {"/".join(s) for s in ole.listdir()}
    except Exception as err:
        raise FileFailure(DAMAGED, f"a broken OLE container ({err})") from err
    if "EncryptionInfo" in streams and "EncryptedPackage" in streams:
        return _decrypt(path, options)
    if "WordDocument" in streams:
        raise NeedsConversion()  # kbcli.readers.dispatch converts it with --convert-legacy
    raise FileFailure(UNSUPPORTED, "an OLE container, not a Word package")


def _decrypt(path: Path, options: ReadOptions) -> IO[bytes]:
    candidates = options.passwords_for(path)
    if not candidates:
        raise FileFailure(ENCRYPTED, "password-protected Word file (give --password, --passwords-file or $KBCLI_PASSWORD)")
    try:
        import msoffcrypto
        from msoffcrypto.exceptions import InvalidKeyError
    except ImportError as err:
        raise FileFailure(ENCRYPTED, "password-protected, and msoffcrypto-tool is not installed") from err
    problem = ""
    for password in candidates:
        try:
            with open(path, "rb") as fh:
                office = msoffcrypto.OfficeFile(fh)
                office.load_key(password=password)
                out = io.BytesIO()
                office.decrypt(out)
            out.seek(0)
            return out
        except InvalidKeyError:
            continue
        except Exception as err:  # e.g. POI bug 53475: parameters msoffcrypto-tool does not support
            problem = f"{type(err).__name__}: {err}"
    if problem:
        raise FileFailure(ENCRYPTED, f"password-protected with encryption msoffcrypto-tool cannot decrypt ({problem})")
    raise FileFailure(ENCRYPTED, f"none of the {len(candidates)} password(s) given for it opens it")


def _check_unpacked_size(package: zipfile.ZipFile) -> int:
    """Refuse zip bombs from the sizes in the zip directory (zipfile never reads past them);
    returns the size of the largest XML part."""
    members = package.infolist()
    total = sum(m.file_size for m in members)
    xml = sum(m.file_size for m in members if m.filename.endswith((".xml", ".rels")))
    if xml > MAX_XML_BYTES or total > MAX_UNPACKED_BYTES:
        raise FileFailure(
            TOO_LARGE,
            f"the package unpacks to {total / 2**20:,.0f} MiB ({xml / 2**20:,.0f} MiB of XML) "
            f"from {sum(m.compress_size for m in members) / 2**20:,.1f} MiB: refused as a zip bomb",
        )
    return max((m.file_size for m in members if m.filename.endswith(".xml")), default=0)


def _patched(package: zipfile.ZipFile) -> io.BytesIO | None:
    """An in-memory copy python-docx accepts, for templates, macro files and Strict OOXML; None
    when nothing needs patching."""
    parts = {info.filename: package.read(info) for info in package.infolist() if not info.is_dir()}
    changed = False
    types = parts.get("[Content_Types].xml", b"")
    for other in _OTHER_MAIN_TYPES:
        if other in types:
            types, changed = types.replace(other, _DOCUMENT_TYPE), True
    parts["[Content_Types].xml"] = types
    for name, data in parts.items():
        if name.endswith((".xml", ".rels")) and b"http://purl.oclc.org/ooxml/" in data:
            for strict, transitional in _STRICT_NAMESPACES.items():
                data = data.replace(strict, transitional)
            parts[name], changed = data, True
    if not changed:
        return None
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as copy:
        for name, data in parts.items():
            copy.writestr(name, data)
    out.seek(0)
    return out


def open_package(path: Path, options: ReadOptions, data: IO[bytes] | None = None):
    """A python-docx Document for `path` (or for `data`, a package already in memory)."""
    import docx

    head = data.read(8) if data is not None else _read_head(path)
    if not head:
        raise FileFailure(DAMAGED, "empty file")
    source: Path | IO[bytes] = path if data is None else data
    if data is not None:
        data.seek(0)
    largest_xml = 0
    if head == CFB_MAGIC and data is None:
        source = _open_cfb(path, options)
    elif not head.startswith(b"PK"):
        raise FileFailure(DAMAGED, "not a Word package (no zip signature)")
    try:
        with zipfile.ZipFile(source) as package:
            largest_xml = _check_unpacked_size(package)
            bad = package.testzip()  # CRC check of every member, streaming
            if bad is not None:
                raise FileFailure(DAMAGED, f"the zip member {bad} is corrupt (CRC mismatch)")
            patched = _patched(package)
        if patched is not None:
            source = patched
        if not isinstance(source, Path):
            source.seek(0)
        return docx.Document(source if not isinstance(source, Path) else str(source))
    except FileFailure:
        raise
    except FileNotFoundError as err:
        raise FileFailure(UNREADABLE, "vanished before it could be read") from err
    except PermissionError as err:
        raise FileFailure(UNREADABLE, err.strerror or str(err)) from err
    except MemoryError as err:
        raise FileFailure(TOO_LARGE, "reading it needs more memory than allowed") from err
    except zipfile.BadZipFile as err:
        raise FileFailure(DAMAGED, f"a broken zip package ({err})") from err
    except KeyError as err:
        raise FileFailure(DAMAGED, f"a part is missing from the package ({err})") from err
    except ValueError as err:
        raise FileFailure(DAMAGED, f"not a Word document ({err})") from err
    except Exception as err:  # python-docx raises several lxml and package errors
        if options.max_memory and largest_xml > options.max_memory // 16:
            # libxml2 reports a failed allocation as a vague syntax error; a tree costs ~10x its XML
            raise FileFailure(
                TOO_LARGE, f"{largest_xml / 2**20:,.0f} MiB of XML is more than the reader's "
                f"{options.max_memory // 2**20} MiB of memory can parse ({type(err).__name__})"
            ) from err
        raise FileFailure(DAMAGED, f"{type(err).__name__}: {err}") from err
