"""The OpenAPI 3.1 description of `kbcli serve`'s API (served at /openapi.json)."""

from __future__ import annotations

from typing import Any

from kbcli import __version__
from kbcli.servers.service import Limits

_ERROR = {"description": "A one-line error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}, "description": "Index name"}


def _json(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema or {"type": "object"}}}}


def _query(name: str, description: str, required: bool = False, kind: str = "integer") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": {"type": kind}, "description": description}


def document(limits: Limits) -> dict[str, Any]:
    budget = f"characters of passage text in the answer (default {limits.default_max_chars}, at most {limits.max_chars})"
    search_request = {
        "type": "object", "required": ["query"], "additionalProperties": False,
        "properties": {
            "query": {"type": "string", "minLength": 1, "maxLength": limits.max_query_chars},
            "top_k": {"type": "integer", "minimum": 1, "maximum": limits.max_top_k, "default": 5},
            "mode": {"type": "string", "enum": ["hybrid", "vector", "keyword"]},
            "file_glob": {"type": "string", "description": "only files matching this glob"},
            "max_chars": {"type": "integer", "minimum": limits.min_chars_per_hit, "maximum": limits.max_chars,
                          "description": "budget of each hit's `snippet`, shared by the hits"},
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "kbcli", "version": __version__,
                 "description": "Local search over indexed documents. Search answers are `kbcli query --json`'s "
                                "objects; each hit adds `uri`, `snippet`, `highlight` and `cut`."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": {"type": "object", "properties": {"error": {"type": "string"}}}, "SearchRequest": search_request},
        },
        "security": [{"bearer": []}],
        "paths": {
            "/healthz": {"get": {"summary": "Liveness", "security": [], "responses": {"200": _json("ok")}}},
            "/v1/indexes": {"get": {"summary": "The served indexes", "responses": {"200": _json("indexes")}}},
            "/v1/indexes/{name}": {"get": {"summary": "One index: sources, counts, files", "parameters": [_NAME],
                                           "responses": {"200": _json("the index"), "404": _ERROR}}},
            "/v1/indexes/{name}/search": {"post": {
                "summary": "Search (as kbcli query --json)", "parameters": [_NAME],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SearchRequest"}}}},
                "responses": {"200": _json("hits"), "400": _ERROR, "404": _ERROR, "413": _ERROR}}},
            "/v1/indexes/{name}/chunks/{chunk_id}": {"get": {
                "summary": "A hit's chunk with its neighbours",
                "parameters": [_NAME, {"name": "chunk_id", "in": "path", "required": True, "schema": {"type": "integer"}},
                               _query("neighbours", f"chunks on each side, 0-{limits.max_neighbours} (default 1)"),
                               _query("max_chars", budget)],
                "responses": {"200": _json("the passage"), "400": _ERROR, "404": _ERROR}}},
            "/v1/indexes/{name}/page": {"get": {
                "summary": "A PDF page's stored text",
                "parameters": [_NAME, _query("file", "path, path below its source, or file name", True, "string"),
                               _query("page", "page number, from 1", True), _query("max_chars", budget)],
                "responses": {"200": _json("the page"), "400": _ERROR, "404": _ERROR}}},
        },
    }
