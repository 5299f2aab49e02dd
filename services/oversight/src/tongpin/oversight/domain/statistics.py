"""Statistics, pre-aggregated as ``$inc`` counters because FerretDB can only ``$sum`` and ``$count``.

The plan. Every accepted event becomes a list of ``Increment(scope_key, field_path, amount)``;
the handler applies each as ``{"$inc": {field_path: amount}}`` on the document ``_id=scope_key``
(upsert, with ``scope_fields(scope_key)`` on insert). Scope documents are:

* ``month:YYYY-MM|unit:*`` and ``month:YYYY-MM|unit:<unit>`` — flows in a local (Asia/Shanghai)
  month: concerns, chatter, cases, oversight items, targets, duration histograms, joins/leaves.
  Quarter and year reports merge their months (``scope_keys_for``), so no event writes more than
  one month document per unit scope.
* ``day:YYYY-MM-DD|unit:*`` and ``day:...|unit:<unit>`` — net participation deltas only:
  ``participation.joined.<channel kind>`` (+1 joined, -1 left) and
  ``participation.roster.<channel kind>`` (+1 entered, -1 left the roster). Participation on a
  date is the sum of all day deltas up to and including it (``participation_at``); the handler
  fetches one unit's ``day`` documents with ``key <= last day`` (a plain ``$match`` on the
  ``scope_fields``), or pre-sums them with ``$group``/``$sum``.

Both the all-units scope (``*``) and the event's own unit (when it has one) are always written.
Field names are codes from the catalogue, never unit ids or text, so every path is ``$inc``-safe.
Dismissed chatter (route ``dismiss``) counts under ``chatter.*``, never under ``concerns.*``.
A re-triage (staff override) or a re-resolution after a reopen replaces the earlier counts when
the handler passes the earlier payload as ``previous``: its counts are reversed in its own month.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from tongpin.oversight.domain import histogram
from tongpin.oversight.domain.periods import Period, bucket_keys, months_of
from tongpin.oversight.domain.validation import occurred_at, parse_data
from tongpin.shared import events

ALL_UNITS = "*"
MONTH, DAY = "month", "day"
ROUTES: tuple[str, ...] = events.Route.__args__  # type: ignore[attr-defined]
METHODS: tuple[str, ...] = events.ResolutionMethod.__args__  # type: ignore[attr-defined]
DEFAULT_THRESHOLD = 3


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


# --- the plan ---------------------------------------------------------------------------------

Fields = list[tuple[str, int]]


def _seconds(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds()


def _plan(data: events.EventData) -> tuple[Fields, Fields]:
    """(month fields, day fields) one payload adds; reversible, so no one-off counters here."""
    month: Fields = []
    day: Fields = []
    match data:
        case events.MemberJoined():
            month.append((f"participation.joins.{data.channel_kind}", 1))
            day.append((f"participation.joined.{data.channel_kind}", 1))
        case events.MemberLeft():
            month.append((f"participation.leaves.{data.channel_kind}", 1))
            day.append((f"participation.joined.{data.channel_kind}", -1))
        case events.RosterUpdated():
            day.append((f"participation.roster.{data.channel_kind}", 1 if data.active else -1))
        case events.ConcernTriaged() if data.route == "dismiss":
            month += [("chatter.dismissed", 1), (f"chatter.by_channel.{data.channel_kind}", 1)]
        case events.ConcernTriaged():
            month += [
                ("concerns.total", 1),
                (f"concerns.by_channel.{data.channel_kind}", 1),
                (f"concerns.by_category.{data.category}", 1),
                (f"concerns.by_severity.{data.severity}", 1),
                (f"concerns.by_route.{data.route}", 1),
            ]
            month += [(f"concerns.flags.{flag}", 1) for flag in sorted(set(data.flags))]
            if data.crisis:
                month.append(("concerns.crisis", 1))
        case events.ConcernMerged():
            month.append(("concerns.merged", 1))
        case events.EscalationRaised():
            month.append(("crisis.fast_path", 1))
        case events.CaseOpened():
            month += [("cases.opened", 1), (f"cases.opened_by_category.{data.category}", 1)]
            if data.crisis:
                month.append(("cases.crisis", 1))
        case events.CaseAssigned():
            month.append(("cases.assignments", 1))
        case events.TalkScheduled():
            month.append(("talks.scheduled", 1))
        case events.TalkHeld():
            month.append(("talks.held", 1))
        case events.CaseEscalated():
            month += [("escalations.raised", 1), (f"escalations.by_category.{data.category}", 1)]
        case events.EscalationDecided():
            month += [("escalations.decided", 1), (f"escalations.by_decision.{data.decision_code}", 1)]
        case events.CaseResolved():
            month += [
                (f"cases.resolved.{data.method}", 1),
                (f"cases.resolved_by_channel.{data.channel_kind}", 1),
                (f"cases.resolved_by_category.{data.category}", 1),
            ]
            for target, met in (("first_response", data.first_response_met), ("resolution", data.resolution_met)):
                if met is not None:
                    month.append((f"targets.{target}.{'met' if met else 'missed'}", 1))
            if data.first_response_at is not None:
                bucket = histogram.bucket_for(_seconds(data.opened_at, data.first_response_at))
                month.append((f"durations.first_response.{bucket}", 1))
            bucket = histogram.bucket_for(_seconds(data.opened_at, data.resolved_at))
            month.append((f"durations.resolution.{bucket}", 1))
        case events.CaseReopened():
            month.append(("cases.reopened", 1))
        case events.OversightItemOpened():
            month += [
                ("oversight.found", 1),
                (f"oversight.by_channel.{data.channel_kind}", 1),
                (f"oversight.by_category.{data.category}", 1),
            ]
        case events.OversightItemUpdated():
            month.append(("oversight.status_changes", 1))
        case events.OversightItemClosed():
            month.append((f"oversight.{data.status}", 1))
        case events.BroadcastDelivered():
            month.append((f"broadcasts.{data.outcome}.{data.channel_kind}", 1))
    return month, day


def _scoped(fields_month: Fields, fields_day: Fields, *, at: datetime, unit: str | None, sign: int) -> list[Increment]:
    keys = bucket_keys(at)
    units = [ALL_UNITS] if unit is None else [ALL_UNITS, unit]
    out: list[Increment] = []
    for each_unit in units:
        month_scope = scope_key(kind=MONTH, key=keys["month"], unit=each_unit)
        out += [Increment(month_scope, path, sign * amount) for path, amount in fields_month]
        day_scope = scope_key(kind=DAY, key=keys["day"], unit=each_unit)
        out += [Increment(day_scope, path, sign * amount) for path, amount in fields_day]
    return out


def _as_model(event_type: str, data: Mapping[str, Any] | events.EventData) -> events.EventData:
    return data if isinstance(data, events.EventData) else parse_data(event_type, data)


def increments_for(
    *,
    event_type: str,
    data: Mapping[str, Any] | events.EventData,
    at: datetime,
    unit: str | None = None,
    previous: Mapping[str, Any] | events.EventData | None = None,
) -> list[Increment]:
    """The counter increments one accepted event causes (ValueError for unknown types or bad data).

    ``unit`` supplies the unit when the payload has none (an oversight item's close carries only
    the item id; the handler knows the item's unit). ``previous`` is the earlier payload of the same
    type about the same subject whose counts this event replaces; they are reversed at its own time.
    """
    model = _as_model(event_type, data)
    if model.carries_text:
        return []
    own_unit = getattr(model, "unit", None) or unit
    month, day = _plan(model)
    out = _scoped(month, day, at=at, unit=own_unit, sign=1)
    if isinstance(model, events.ConcernTriaged) and model.overridden:
        out += _scoped([("concerns.overridden", 1)], [], at=at, unit=own_unit, sign=1)
    if previous is not None:
        before = _as_model(event_type, previous)
        if type(before) is not type(model):
            raise ValueError("previous must be a payload of the same event type")
        old_month, old_day = _plan(before)
        old_unit = getattr(before, "unit", None) or unit
        out += _scoped(old_month, old_day, at=occurred_at(before), unit=old_unit, sign=-1)
    return out


# --- reading the counters back ------------------------------------------------------------------

_META_FIELDS = frozenset({"_id", "kind", "key", "unit"})


def merge_docs(docs: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Sum scope documents field by field (nested counters), ignoring ids and scope metadata."""
    total: dict[str, Any] = {}

    def add(into: dict[str, Any], source: Mapping[str, Any], top: bool) -> None:
        for name, value in source.items():
            if top and name in _META_FIELDS:
                continue
            if isinstance(value, Mapping):
                add(into.setdefault(name, {}), value, False)
            elif isinstance(value, int | float) and not isinstance(value, bool):
                current = into.get(name, 0)
                into[name] = (current if isinstance(current, int | float) else 0) + value

    for doc in docs:
        add(total, doc, True)
    return total


def _get(tree: Mapping[str, Any], path: str) -> Any:
    node: Any = tree
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def _count(tree: Mapping[str, Any], path: str) -> int:
    value = _get(tree, path)
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _table(tree: Mapping[str, Any], path: str, codes: Sequence[str]) -> dict[str, int]:
    """A breakdown with every known code present (zero-filled), plus any extra codes found."""
    found = _get(tree, path)
    found = found if isinstance(found, Mapping) else {}
    table = {code: _count(found, code) for code in codes}
    for code in sorted(found):
        if code not in table:
            table[code] = _count(found, code)
    return table


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole > 0 else None


def participation_at(
    day_docs: Iterable[Mapping[str, Any]], *, on: date | None = None, unit: str = ALL_UNITS
) -> dict[str, dict[str, Any]]:
    """Members joined, roster size and their ratio per channel kind on a local date (sum of day deltas)."""
    last = on.isoformat() if on is not None else None
    chosen = []
    for doc in day_docs:
        try:
            scope = parse_scope_key(str(doc.get("_id", "")))
        except ValueError:
            continue
        if scope.kind == DAY and scope.unit == unit and (last is None or scope.key <= last):
            chosen.append(doc)
    merged = merge_docs(chosen)
    out: dict[str, dict[str, Any]] = {}
    for kind in events.CHANNEL_KINDS:
        joined = _count(merged, f"participation.joined.{kind}")
        roster = _count(merged, f"participation.roster.{kind}")
        out[kind] = {"joined": joined, "roster": roster, "ratio": _ratio(joined, roster)}
    return out


def _duration_figures(counts: Any) -> dict[str, Any]:
    counts = counts if isinstance(counts, Mapping) else {}
    clean = histogram.merge([{k: v for k, v in counts.items() if isinstance(v, int)}])
    figures: dict[str, Any] = {"count": histogram.total(clean)}
    for name, value in (("median", histogram.median(clean)), ("p90", histogram.p90(clean))):
        over = value is not None and value == float("inf")
        figures[f"{name}_minutes"] = None if value is None or over else value / 60
        figures[f"{name}_over_limit"] = over
    figures["limit_minutes"] = histogram.BOUNDS_MINUTES[-1]
    figures["buckets"] = clean
    return figures


def _target(tree: Mapping[str, Any], name: str) -> dict[str, Any]:
    met, missed = _count(tree, f"targets.{name}.met"), _count(tree, f"targets.{name}.missed")
    return {"met": met, "missed": missed, "rate": _ratio(met, met + missed)}


# Breakdown tables that k-anonymity suppression applies to (paths into the report).
BREAKDOWNS: tuple[str, ...] = (
    "concerns.by_channel", "concerns.by_category", "concerns.by_severity", "concerns.by_route",
    "concerns.flags", "chatter.by_channel", "cases.resolved_by_channel", "cases.resolved_by_category",
    "cases.opened_by_category", "escalations.by_category", "oversight.by_channel", "oversight.by_category",
)


def report(
    docs_for_period: Iterable[Mapping[str, Any]],
    *,
    period: Period,
    unit: str = ALL_UNITS,
    day_docs: Iterable[Mapping[str, Any]] = (),
    threshold: int | None = None,
) -> dict[str, Any]:
    """Merge a period's month documents (and day documents up to its end) into the report figures.

    Documents outside the period or unit are ignored. With ``threshold``, every breakdown in
    ``BREAKDOWNS`` is suppressed (``suppress``) and the hidden cells are listed under ``suppressed``.
    """
    wanted = set(scope_keys_for(period, unit=unit))
    tree = merge_docs(doc for doc in docs_for_period if doc.get("_id") in wanted)
    kinds, categories = events.CHANNEL_KINDS, events.CATEGORIES
    resolved = {method: _count(tree, f"cases.resolved.{method}") for method in METHODS}
    figures: dict[str, Any] = {
        "period": {
            "key": period.key, "kind": period.kind,
            "start": period.start.isoformat(), "last_day": period.last_day.isoformat(),
        },
        "unit": unit,
        "participation": {
            **participation_at(day_docs, on=period.last_day, unit=unit),
            "joins": _table(tree, "participation.joins", kinds),
            "leaves": _table(tree, "participation.leaves", kinds),
        },
        "concerns": {
            "total": _count(tree, "concerns.total"),
            "by_channel": _table(tree, "concerns.by_channel", kinds),
            "by_category": _table(tree, "concerns.by_category", categories),
            "by_severity": _table(tree, "concerns.by_severity", events.SEVERITIES),
            "by_route": _table(tree, "concerns.by_route", [r for r in ROUTES if r != "dismiss"]),
            "flags": _table(tree, "concerns.flags", events.RISK_FLAGS),
            "crisis": _count(tree, "concerns.crisis"),
            "overridden": _count(tree, "concerns.overridden"),
            "merged": _count(tree, "concerns.merged"),
            "crisis_fast_path": _count(tree, "crisis.fast_path"),
        },
        "chatter": {
            "dismissed": _count(tree, "chatter.dismissed"),
            "by_channel": _table(tree, "chatter.by_channel", kinds),
        },
        "cases": {
            "opened": _count(tree, "cases.opened"),
            "opened_by_category": _table(tree, "cases.opened_by_category", categories),
            "crisis": _count(tree, "cases.crisis"),
            "resolved": {**resolved, "total": sum(resolved.values())},
            "resolved_by_channel": _table(tree, "cases.resolved_by_channel", kinds),
            "resolved_by_category": _table(tree, "cases.resolved_by_category", categories),
            "reopened": _count(tree, "cases.reopened"),
        },
        "talks": {"scheduled": _count(tree, "talks.scheduled"), "held": _count(tree, "talks.held")},
        "escalations": {
            "raised": _count(tree, "escalations.raised"),
            "decided": _count(tree, "escalations.decided"),
            "by_category": _table(tree, "escalations.by_category", categories),
        },
        "oversight": {
            "found": _count(tree, "oversight.found"),
            "resolved": _count(tree, "oversight.resolved"),
            "not_substantiated": _count(tree, "oversight.not_substantiated"),
            "by_channel": _table(tree, "oversight.by_channel", ("families", "supervision")),
            "by_category": _table(tree, "oversight.by_category", categories),
        },
        "targets": {"first_response": _target(tree, "first_response"), "resolution": _target(tree, "resolution")},
        "durations": {
            "first_response": _duration_figures(_get(tree, "durations.first_response")),
            "resolution": _duration_figures(_get(tree, "durations.resolution")),
        },
        "broadcasts": {
            "delivered": _table(tree, "broadcasts.delivered", kinds),
            "failed": _table(tree, "broadcasts.failed", kinds),
        },
    }
    figures["suppressed"] = []
    if threshold is not None:
        figures["suppression"] = {"threshold": threshold}
        for path in BREAKDOWNS:
            section, name = path.split(".")
            table = suppress(figures[section][name], threshold=threshold)
            figures[section][name] = table.values
            figures["suppressed"] += [f"{path}.{cell}" for cell in table.suppressed]
    return figures


# --- disclosure control and export -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SuppressedTable:
    """A breakdown after suppression: hidden cells are None and named in ``suppressed``."""

    values: dict[str, int | None]
    suppressed: tuple[str, ...]


def suppress(
    table: Mapping[str, int | None], *, threshold: int = DEFAULT_THRESHOLD, complementary: bool = True
) -> SuppressedTable:
    """Hide counts from 1 to threshold-1 so a breakdown never points at one or two people.

    Zero is shown (it identifies nobody). Totals stay published, so a single hidden cell could be
    recovered as total minus the rest; with ``complementary`` the smallest other non-zero cell is
    hidden too. Known limit: when every hidden cell must be 1 (their sum equals their number) the
    values can still be inferred; reports keep thresholds small and tables wide for that reason.
    """
    values: dict[str, int | None] = dict(table)
    hidden = [key for key, n in table.items() if n is not None and 0 < n < threshold]
    if complementary and len(hidden) == 1:
        others = [(n, key) for key, n in table.items() if n and key not in hidden]
        if others:
            hidden.append(min(others)[1])
    for key in hidden:
        values[key] = None
    return SuppressedTable(values=values, suppressed=tuple(key for key in table if key in hidden))


def report_rows(figures: Mapping[str, Any], *, prefix: str = "") -> list[dict[str, Any]]:
    """Flatten a report into ``{"metric": "cases.resolved.answered_online", "value": 72}`` rows."""
    rows: list[dict[str, Any]] = []
    for name, value in figures.items():
        path = f"{prefix}{name}"
        if name in {"suppressed", "buckets"}:
            continue
        if isinstance(value, Mapping):
            rows += report_rows(value, prefix=f"{path}.")
        elif value is None or isinstance(value, int | float | str | bool):
            rows.append({"metric": path, "value": value})
    return rows


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    # A text cell starting like a formula would run in Excel; a leading apostrophe keeps it text.
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def to_csv(
    rows: Iterable[Mapping[str, Any]], *, columns: Sequence[str], headers: Sequence[str] | None = None
) -> str:
    """RFC 4180 CSV (CRLF, minimal quoting) with a UTF-8 BOM so Excel shows Chinese; None is empty."""
    if headers is not None and len(headers) != len(columns):
        raise ValueError("headers must match columns one to one")
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(list(headers if headers is not None else columns))
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in columns])
    return "\ufeff" + buffer.getvalue()
