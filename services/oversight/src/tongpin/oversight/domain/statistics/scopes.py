"""Scope documents: one per (period kind, period key, unit), each holding ``$inc`` counters; their keys and
the increments written to them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from tongpin.oversight.domain.periods import Period, months_of

ALL_UNITS = "*"
MONTH, DAY = "month", "day"


class Increment(NamedTuple):
    """Add ``amount`` to ``field_path`` of the statistics document ``scope_key``."""

    scope_key: str
    field_path: str
    amount: int


@dataclass(frozen=True, slots=True)
class Scope:
    """A parsed scope key: kind (month/day), period key and unit (``*`` for all units)."""

    kind: str
    key: str
    unit: str


def scope_key(*, kind: str, key: str, unit: str = ALL_UNITS) -> str:
    """The document id of one statistics scope, e.g. ``month:2026-03|unit:*``."""
    return f"{kind}:{key}|unit:{unit}"


def parse_scope_key(value: str) -> Scope:
    """Split a scope key back into kind, key and unit (ValueError if malformed)."""
    head, sep, unit = value.partition("|unit:")
    kind, colon, key = head.partition(":")
    if not sep or not colon or not kind or not key or not unit:
        raise ValueError(f"not a scope key: {value!r}")
    return Scope(kind=kind, key=key, unit=unit)


def scope_fields(value: str) -> dict[str, str]:
    """Fields to ``$setOnInsert`` on a scope document so it can be queried by kind, key and unit."""
    scope = parse_scope_key(value)
    return {"kind": scope.kind, "key": scope.key, "unit": scope.unit}


def scope_keys_for(period: Period, *, unit: str = ALL_UNITS) -> list[str]:
    """The month scope documents a period's report merges."""
    return [scope_key(kind=MONTH, key=month, unit=unit) for month in months_of(period)]
