"""A find's answer: projection, sort, skip and limit over the matched documents."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from tongpin.shared.testing.memory.values import _order_key, _values


def _project(doc: Mapping[str, Any], projection: Mapping[str, Any] | Sequence[str] | None) -> dict[str, Any]:
    out = copy.deepcopy(dict(doc))
    if not projection:
        return out
    spec = dict(projection) if isinstance(projection, Mapping) else dict.fromkeys(projection, 1)
    if any(v for v in spec.values()):  # inclusion: the fields named, and _id unless excluded
        kept = {k: v for k, v in out.items() if k != "_id" and spec.get(k)}
        return {"_id": out["_id"], **kept} if spec.get("_id", 1) and "_id" in out else kept
    return {k: v for k, v in out.items() if k not in spec}


def _sort_spec(key_or_list: Any, direction: int | None = None) -> list[tuple[str, int]]:
    if isinstance(key_or_list, str):
        return [(key_or_list, direction or 1)]
    if isinstance(key_or_list, Mapping):
        return [(str(k), int(v)) for k, v in key_or_list.items()]
    return [(str(k), int(v)) for k, v in key_or_list]


def _sorted(docs: list[dict[str, Any]], spec: list[tuple[str, int]]) -> list[dict[str, Any]]:
    for path, direction in reversed(spec):
        def key(doc: dict[str, Any], path: str = path) -> tuple[int, Any]:
            found = _values(doc, path)
            return _order_key(found[0] if found else None)
        docs = sorted(docs, key=key, reverse=direction < 0)
    return docs


class MemoryCursor:
    """A find's answer: sort, skip and limit, then ``to_list`` or ``async for``."""

    def __init__(self, docs: list[dict[str, Any]], projection: Any = None) -> None:
        self._docs = docs
        self._projection = projection
        self._sort: list[tuple[str, int]] = []
        self._skip = 0
        self._limit = 0

    def sort(self, key_or_list: Any, direction: int | None = None) -> MemoryCursor:
        self._sort = _sort_spec(key_or_list, direction)
        return self

    def skip(self, count: int) -> MemoryCursor:
        self._skip = count
        return self

    def limit(self, count: int) -> MemoryCursor:
        self._limit = count
        return self

    def _result(self) -> list[dict[str, Any]]:
        docs = _sorted(self._docs, self._sort) if self._sort else self._docs
        docs = docs[self._skip:]
        if self._limit:
            docs = docs[: self._limit]
        return [_project(d, self._projection) for d in docs]

    async def to_list(self, length: int | None = None) -> list[dict[str, Any]]:
        result = self._result()
        return result[:length] if length else result

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        async def walk() -> AsyncIterator[dict[str, Any]]:
            for doc in self._result():
                yield doc
        return walk()
