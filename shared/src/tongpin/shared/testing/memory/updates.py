"""Update operators applied to a stored document in place: ``$set``, ``$setOnInsert``, ``$unset``, ``$inc``,
``$push``, ``$addToSet``, ``$max`` and ``$min``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tongpin.shared.testing.memory.values import _MISSING, _order_key, _stored


def _parent(doc: dict[str, Any], path: str, *, create: bool) -> tuple[Any, str]:
    parts = path.split(".")
    node: Any = doc
    for part in parts[:-1]:
        if isinstance(node, list) and part.isdigit():
            node = node[int(part)]
            continue
        if part not in node or node[part] is None:
            if not create:
                return None, parts[-1]
            node[part] = {}
        node = node[part]
    return node, parts[-1]


def _get(doc: dict[str, Any], path: str) -> Any:
    node, last = _parent(doc, path, create=False)
    if node is None:
        return _MISSING
    if isinstance(node, list):
        return node[int(last)] if last.isdigit() and int(last) < len(node) else _MISSING
    return node.get(last, _MISSING)


def _put(doc: dict[str, Any], path: str, value: Any) -> None:
    node, last = _parent(doc, path, create=True)
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def apply_update(doc: dict[str, Any], update: Mapping[str, Any], *, inserting: bool = False) -> None:
    """Apply a MongoDB update document in place (the operators the services use)."""
    for op, fields in update.items():
        if op == "$setOnInsert" and not inserting:
            continue
        for path, value in fields.items():
            value = _stored(value)
            current = _get(doc, path)
            if op in ("$set", "$setOnInsert"):
                _put(doc, path, value)
            elif op == "$unset":
                node, last = _parent(doc, path, create=False)
                if isinstance(node, dict):
                    node.pop(last, None)
            elif op == "$inc":
                _put(doc, path, (0 if current is _MISSING else current) + value)
            elif op in ("$push", "$addToSet"):
                items = value["$each"] if isinstance(value, dict) and "$each" in value else [value]
                array = [] if current is _MISSING or current is None else list(current)
                for item in items:
                    if op == "$push" or item not in array:
                        array.append(item)
                _put(doc, path, array)
            elif op in ("$max", "$min"):
                if current is _MISSING or current is None or (
                    _order_key(value) > _order_key(current) if op == "$max" else _order_key(value) < _order_key(current)
                ):
                    _put(doc, path, value)
            else:
                raise NotImplementedError(f"update operator {op} is not in the in-memory database")
