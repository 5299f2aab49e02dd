"""Filters: whether a stored document matches a MongoDB query, for the operators the services use."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tongpin.shared.testing.memory.values import _candidates, _rank, _stored, _values

_QUERY_OPS = {"$in", "$nin", "$ne", "$gt", "$gte", "$lt", "$lte", "$exists", "$eq", "$size"}


def _compare(op: str, have: Any, want: Any) -> bool:
    if have is None or want is None or _rank(have) != _rank(want):
        return False  # MongoDB compares within one type only
    if op == "$gt":
        return bool(have > want)
    if op == "$gte":
        return bool(have >= want)
    if op == "$lt":
        return bool(have < want)
    return bool(have <= want)


def _equal(candidates: list[Any], want: Any, reached: bool) -> bool:
    if want is None:
        return not reached or any(v is None for v in candidates)
    return any(_same(v, want) for v in candidates)


def _same(have: Any, want: Any) -> bool:
    if isinstance(have, bool) or isinstance(want, bool):
        return type(have) is type(want) and have == want
    return bool(_stored(have) == _stored(want))


def _field_matches(doc: Mapping[str, Any], path: str, condition: Any) -> bool:
    reached = bool(_values(doc, path))
    candidates = _candidates(doc, path)
    if not (isinstance(condition, Mapping) and condition and all(str(k).startswith("$") for k in condition)):
        return _equal(candidates, condition, reached)
    for op, want in condition.items():
        if op not in _QUERY_OPS:
            raise NotImplementedError(f"query operator {op} is not in the in-memory database")
        if op == "$eq" and not _equal(candidates, want, reached):
            return False
        if op == "$ne" and _equal(candidates, want, reached):
            return False
        if op == "$in" and not any(_equal(candidates, w, reached) for w in want):
            return False
        if op == "$nin" and any(_equal(candidates, w, reached) for w in want):
            return False
        if op == "$exists" and reached != bool(want):
            return False
        if op == "$size" and not any(isinstance(v, list) and len(v) == want for v in _values(doc, path)):
            return False
        if op in ("$gt", "$gte", "$lt", "$lte") and not any(_compare(op, v, _stored(want)) for v in candidates):
            return False
    return True


def matches(doc: Mapping[str, Any], query: Mapping[str, Any] | None) -> bool:
    """Whether a stored document matches a MongoDB filter (the subset the services use)."""
    for key, condition in (query or {}).items():
        if key == "$or":
            if not any(matches(doc, part) for part in condition):
                return False
        elif key == "$and":
            if not all(matches(doc, part) for part in condition):
                return False
        elif key.startswith("$"):
            raise NotImplementedError(f"query operator {key} is not in the in-memory database")
        elif not _field_matches(doc, key, condition):
            return False
    return True
