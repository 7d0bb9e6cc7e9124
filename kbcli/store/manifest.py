"""An index's fixed settings (manifest.json): what it was built with, so it is queried alike."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kbcli.errors import IncompatibleIndex, IndexNotFound
from kbcli.store.integrity import damaged, has_database, manifest_missing
from kbcli.store.layout import FORMAT_VERSION, MANIFEST, now_iso


@dataclass
class Manifest:
    name: str
    model: str
    precision: str
    dimension: int
    token_limit: int
    chunking: dict[str, int]
    created_at: str = field(default_factory=now_iso)
    format: int = FORMAT_VERSION
    kbcli_version: str = ""
    vector_index: str = "auto"  # auto | flat | ivf (kbcli.vectors)
    # The model, as kbcli.models records it (absent in indexes built before it: minilm by precision).
    spec: str = ""  # the model spec string (kbcli models)
    multilingual: bool = False  # whether the vector side is trusted with Chinese/Japanese/Korean questions
    model_version: str = ""  # a built-in model's package and export: unchanged means no probe re-check
    prefixes: dict[str, str] = field(default_factory=dict)  # query / passage prefixes
    probe: list[list[float]] = field(default_factory=list)  # leading components of the probe sentences' vectors
    model_choice: str = ""  # how `auto` chose the model ("": it was named)

    @property
    def fingerprint(self) -> str:
        return f"{self.model}@{self.precision}"

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_json(), indent=2).encode()

    @classmethod
    def load(cls, folder: Path) -> "Manifest":
        path = folder / MANIFEST
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            if has_database(folder):  # the database survived: damaged, not absent
                raise manifest_missing(folder) from None
            raise IndexNotFound(f"no index at {folder}") from None
        except (OSError, ValueError) as err:
            raise damaged(folder, f"{MANIFEST} unreadable: {err}") from err
        if not isinstance(data, dict):
            raise damaged(folder, f"{MANIFEST} unreadable: not an object")
        return cls.from_json(folder, data)

    @classmethod
    def from_json(cls, folder: Path, data: dict[str, Any]) -> "Manifest":
        if data.get("format") != FORMAT_VERSION:
            raise IncompatibleIndex(
                f"index {folder.name!r} was built by another kbcli version (format {data.get('format')}, this one "
                f"reads {FORMAT_VERSION}): rebuild it with 'kbcli remove {folder.name} --yes' and 'kbcli index'"
            )
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
