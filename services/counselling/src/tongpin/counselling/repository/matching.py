"""MongoDB's semantics, in memory, for what counselling's handlers ask of their stores.

The operators the handlers use — $ne, $lt/$lte/$gt/$gte, $in/$nin, $exists, $or/$and, a value matching an
array element, a missing field matching None — and the updates $set, $unset, $inc, $push on dotted paths.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

_MISSING = object()


def _lookup(doc: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(doc, dict) or part not in doc:
            return _MISSING
        doc = doc[part]
    return doc


def _equals(value: Any, wanted: Any) -> bool:
    if value is _MISSING:
        return wanted is None
    return bool(value == wanted or (isinstance(value, list) and wanted in value))


def _compare(value: Any, test: Callable[[Any], bool]) -> bool:
    return value is not _MISSING and value is not None and test(value)


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "$ne": lambda value, arg: not _equals(value, arg),
    "$lt": lambda value, arg: _compare(value, lambda v: v < arg),
    "$lte": lambda value, arg: _compare(value, lambda v: v <= arg),
    "$gt": lambda value, arg: _compare(value, lambda v: v > arg),
    "$gte": lambda value, arg: _compare(value, lambda v: v >= arg),
    "$in": lambda value, arg: any(_equals(value, x) for x in arg),
    "$nin": lambda value, arg: not any(_equals(value, x) for x in arg),
    "$exists": lambda value, arg: (value is not _MISSING) == bool(arg),
}


def matches(doc: dict[str, Any], query: dict[str, Any]) -> bool:
    """Whether a document matches a query, as MongoDB would decide for the operators above."""
    for key, condition in query.items():
        if key == "$or":
            if not any(matches(doc, clause) for clause in condition):
                return False
        elif key == "$and":
            if not all(matches(doc, clause) for clause in condition):
                return False
        elif isinstance(condition, dict) and condition and all(op.startswith("$") for op in condition):
            value = _lookup(doc, key)
            if not all(_OPERATORS[op](value, arg) for op, arg in condition.items()):
                return False
        elif not _equals(_lookup(doc, key), condition):
            return False
    return True


def _parent(doc: dict[str, Any], path: str) -> tuple[dict[str, Any], str]:
    *parents, leaf = path.split(".")
    for part in parents:
        doc = doc.setdefault(part, {})
    return doc, leaf


def apply_update(doc: dict[str, Any], update: dict[str, Any]) -> None:
    """Apply $set, $unset, $inc and $push to a document in place."""
    for op, values in update.items():
        for path, value in values.items():
            parent, leaf = _parent(doc, path)
            if op == "$set":
                parent[leaf] = copy.deepcopy(value)
            elif op == "$unset":
                parent.pop(leaf, None)
            elif op == "$inc":
                parent[leaf] = parent.get(leaf, 0) + value
            elif op == "$push":
                parent.setdefault(leaf, []).append(copy.deepcopy(value))
            else:
                raise NotImplementedError(op)


def project(doc: dict[str, Any], projection: dict[str, Any] | None) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    if not projection:
        return out
    if any(projection.values()):
        return {k: v for k, v in out.items() if k == "_id" or projection.get(k)}
    return {k: v for k, v in out.items() if k not in projection}
