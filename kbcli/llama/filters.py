"""LlamaIndex `MetadataFilters` on kbcli hits: `file` (exact path or glob) and `page`; anything
else is refused with a clear error, never ignored."""

from __future__ import annotations

import fnmatch
from typing import Any, Callable

from llama_index.core.vector_stores.types import FilterCondition, FilterOperator, MetadataFilter, MetadataFilters

from kbcli.errors import UsageError

Predicate = Callable[[dict[str, Any]], bool]

_FILE_OPERATORS = (FilterOperator.EQ, FilterOperator.NE, FilterOperator.IN, FilterOperator.NIN)
_PAGE_OPERATORS = (
    FilterOperator.EQ, FilterOperator.NE, FilterOperator.GT, FilterOperator.GTE,
    FilterOperator.LT, FilterOperator.LTE, FilterOperator.IN, FilterOperator.NIN,
)


class UnsupportedFilter(UsageError, ValueError):
    """A filter kbcli cannot apply; raised when the retriever is built (or asked), not skipped."""


def compile_filters(filters: MetadataFilters | None) -> Predicate | None:
    """A predicate over a node's metadata, or None for no filter."""
    if filters is None or not filters.filters:
        return None
    parts = [_compile(f) for f in filters.filters]
    condition = filters.condition or FilterCondition.AND
    if condition == FilterCondition.AND:
        return lambda meta: all(p(meta) for p in parts)
    if condition == FilterCondition.OR:
        return lambda meta: any(p(meta) for p in parts)
    if condition == FilterCondition.NOT:
        return lambda meta: not all(p(meta) for p in parts)
    raise UnsupportedFilter(f"filter condition {condition!r} is not supported")


def _compile(item: MetadataFilter | MetadataFilters) -> Predicate:
    if isinstance(item, MetadataFilters):
        nested = compile_filters(item)
        return nested if nested is not None else (lambda meta: True)
    operator = FilterOperator(item.operator)
    if item.key == "file":
        if operator not in _FILE_OPERATORS:
            raise UnsupportedFilter(f"the file filter takes ==, !=, in or nin, not {operator.value!r}")
        return _membership("file", operator, _strings(item.value), _file_matches)
    if item.key == "page":
        if operator not in _PAGE_OPERATORS:
            raise UnsupportedFilter(f"the page filter takes ==, !=, >, >=, <, <=, in or nin, not {operator.value!r}")
        return _page(operator, item.value)
    raise UnsupportedFilter(f"kbcli filters on 'file' and 'page' only, not {item.key!r}")


def _strings(value: Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str) for v in values):
        raise UnsupportedFilter(f"the file filter needs a path or glob (or a list of them), not {value!r}")
    return values


def _file_matches(path: str | None, pattern: str) -> bool:
    """An exact path, or a glob matched against the whole path or the file name."""
    if path is None:
        return False
    name = path.rsplit("/", 1)[-1]
    return path == pattern or fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(name, pattern)


def _membership(key: str, operator: FilterOperator, values: list, matches: Callable[[Any, Any], bool]) -> Predicate:
    if operator in (FilterOperator.EQ, FilterOperator.NE) and len(values) != 1:
        raise UnsupportedFilter(f"the {key} filter with {operator.value!r} takes one value; use 'in' for several")
    negate = operator in (FilterOperator.NE, FilterOperator.NIN)
    return lambda meta: any(matches(meta.get(key), v) for v in values) != negate


def _page(operator: FilterOperator, value: Any) -> Predicate:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise UnsupportedFilter(f"the page filter needs whole page numbers, not {value!r}")
    if operator in (FilterOperator.EQ, FilterOperator.NE, FilterOperator.IN, FilterOperator.NIN):
        return _membership("page", operator, values, lambda page, v: page == v)
    if len(values) != 1:
        raise UnsupportedFilter(f"the page filter with {operator.value!r} takes one number")
    bound = values[0]
    compare = {
        FilterOperator.GT: lambda p: p > bound,
        FilterOperator.GTE: lambda p: p >= bound,
        FilterOperator.LT: lambda p: p < bound,
        FilterOperator.LTE: lambda p: p <= bound,
    }[operator]
    return lambda meta: meta.get("page") is not None and compare(meta["page"])  # pageless hits never match a range
