"""Values as stored: what MongoDB keeps of a value, what a dotted path reaches, and the order of values of
different types."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidDocument

_MISSING = object()


def _stored(value: Any) -> Any:
    """A value as MongoDB would keep it: UTC datetimes to the millisecond, lists for tuples, copies."""
    if isinstance(value, datetime):
        moment = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    if isinstance(value, date):
        raise InvalidDocument(f"cannot encode object: {value!r}, of type: {type(value)}")
    if isinstance(value, Mapping):
        return {str(k): _stored(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_stored(v) for v in value]
    return value


def _values(doc: Any, path: str) -> list[Any]:
    """Every value a dotted path reaches, through arrays as MongoDB does; [] when it reaches nothing."""
    head, _, rest = path.partition(".")
    if isinstance(doc, list):
        if head.isdigit():
            index = int(head)
            found = doc[index] if index < len(doc) else _MISSING
            return [] if found is _MISSING else (_values(found, rest) if rest else [found])
        return [v for item in doc for v in _values(item, path)]
    if not isinstance(doc, Mapping) or head not in doc:
        return []
    value = doc[head]
    return _values(value, rest) if rest else [value]


def _candidates(doc: Any, path: str) -> list[Any]:
    """The values a query compares with: each reached value, and each element of a reached array."""
    out: list[Any] = []
    for value in _values(doc, path):
        out.append(value)
        if isinstance(value, list):
            out.extend(value)
    return out


_RANK = {type(None): 0, int: 1, float: 1, str: 2, dict: 3, list: 4, ObjectId: 5, bool: 6, datetime: 7}


def _rank(value: Any) -> int:
    if isinstance(value, bool):
        return 6
    for kind, rank in _RANK.items():
        if isinstance(value, kind):
            return rank
    return 8


def _order_key(value: Any) -> tuple[int, Any]:
    rank = _rank(value)
    if rank in (3, 4):
        return rank, repr(value)
    return rank, value if value is not None else 0
