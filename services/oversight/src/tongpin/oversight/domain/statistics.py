"""Statistics: pre-aggregated ``$inc`` counters (FerretDB can only ``$sum`` and ``$count``), read back as reports.

Counters. Each counted fact is one ``(period kind, period key, unit, figure) -> amount`` and becomes
``Increment(scope_key, figure, amount)`` twice: once on its unit's scope document and once on the
all-units scope ``*``. The update is a plain function of (unit, period, fact), so the counters of
many events can be grouped by scope document and applied together. Scope documents are:

* ``month:YYYY-MM|unit:<unit>`` and ``month:YYYY-MM|unit:*`` — flows, in the bureau's calendar month
  (``periods``). Quarter and year reports merge their months, so months add up to the year.
* ``day:YYYY-MM-DD|unit:<unit>`` and ``day:...|unit:*`` — net participation deltas:
  ``participation.joined.<channel kind>`` (+1 joined, -1 left) and ``participation.roster.<kind>``.
  Participation on a date is the sum of all day deltas up to it (a stock, not a flow: it is read at
  the end of the period and does not add up over months).

Where facts come from. Everything about a concern — its triage decisions, its case, talks,
escalations and oversight item — is counted from its thread (``threads``), whose counts are a
function of its state, so corrections move every figure at once. Membership, roster changes and
broadcast deliveries are facts of their own event (``event_facts``). Field names are codes from
the catalogue, never unit ids or text, so every path is ``$inc``-safe.

Reports add up: every breakdown adds up to its total (flags excepted: a concern may carry several),
per unit and for the bureau, and each bureau figure is the sum over the units. ``published`` applies
the disclosure control (``disclosure``) to the answers of one period for every unit at once.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any, NamedTuple

from tongpin.oversight.domain import disclosure, histogram
from tongpin.oversight.domain.periods import SHANGHAI, Period, bucket_keys, months_of
from tongpin.oversight.domain.threads import Fact
from tongpin.shared import events

ALL_UNITS = "*"
MONTH, DAY = "month", "day"
ROUTES: tuple[str, ...] = tuple(r for r in events.Route.__args__ if r != "dismiss")  # type: ignore[attr-defined]
METHODS: tuple[str, ...] = events.ResolutionMethod.__args__  # type: ignore[attr-defined]
ITEM_CHANNELS = ("families", "supervision")
READING_TARGETS: tuple[str, ...] = events.ReadingTarget.__args__  # type: ignore[attr-defined]
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


# --- facts into increments --------------------------------------------------------------------

ScopedFact = tuple[str, str, str, str]  # (kind, period key, unit, figure)


def increments(facts: Mapping[ScopedFact, int]) -> list[Increment]:
    """The counter increments of some facts: each on its unit's scope and on the all-units scope."""
    out: list[Increment] = []
    for (kind, key, unit, path), amount in sorted(facts.items()):
        if not amount:
            continue
        for scope_unit in (unit, ALL_UNITS) if unit != ALL_UNITS else (ALL_UNITS,):
            out.append(Increment(scope_key(kind=kind, key=key, unit=scope_unit), path, amount))
    return out


def month_facts(facts: Mapping[Fact, int]) -> dict[ScopedFact, int]:
    """Thread facts ``(month, unit, figure)`` as scoped facts."""
    return {(MONTH, month, unit, path): amount for (month, unit, path), amount in facts.items()}


def event_facts(data: events.EventData, *, zone: tzinfo = SHANGHAI) -> dict[ScopedFact, int]:
    """What an event counts on its own (outside any thread): membership, roster changes, broadcast deliveries."""
    unit = getattr(data, "unit", None)
    if unit is None:
        return {}
    out: Counter[ScopedFact] = Counter()
    match data:
        case events.MemberJoined():
            keys = bucket_keys(data.joined_at, zone)
            out[(MONTH, keys["month"], unit, f"participation.joins.{data.channel_kind}")] += 1
            out[(DAY, keys["day"], unit, f"participation.joined.{data.channel_kind}")] += 1
        case events.MemberLeft():
            keys = bucket_keys(data.left_at, zone)
            out[(MONTH, keys["month"], unit, f"participation.leaves.{data.channel_kind}")] += 1
            out[(DAY, keys["day"], unit, f"participation.joined.{data.channel_kind}")] -= 1
        case events.RosterUpdated():
            keys = bucket_keys(data.effective_at, zone)
            out[(DAY, keys["day"], unit, f"participation.roster.{data.channel_kind}")] += 1 if data.active else -1
        case events.BroadcastDelivered():
            keys = bucket_keys(data.delivered_at, zone)
            out[(MONTH, keys["month"], unit, f"broadcasts.{data.outcome}.{data.channel_kind}")] += 1
        case events.ConcernRead():
            # Counted in the month the message was received, as its concern is (ids and times only).
            month = bucket_keys(data.received_at, zone)["month"]
            out[(MONTH, month, unit, f"reading.read.{data.target}")] += 1
            if data.within_target:
                out[(MONTH, month, unit, f"reading.read_within_target.{data.target}")] += 1
        case events.ReadingOverdue():
            month = bucket_keys(data.received_at, zone)["month"]
            out[(MONTH, month, unit, f"reading.overdue.{data.target}")] += 1
    return dict(out)


# --- reading the counters back ------------------------------------------------------------------

_META_FIELDS = frozenset({"_id", "kind", "key", "unit", "marks", "batch"})


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
        if code not in table and not isinstance(found[code], Mapping):
            table[code] = _count(found, code)
    return table


def _ratio(part: int | None, whole: int | None) -> float | None:
    return round(part / whole, 4) if part is not None and whole else None


def participation_figures(stock: Mapping[str, Mapping[str, int]] | None) -> dict[str, dict[str, Any]]:
    """Members joined, roster size and their ratio per channel kind, from summed day deltas."""
    out: dict[str, dict[str, Any]] = {}
    for kind in events.CHANNEL_KINDS:
        counts = (stock or {}).get(kind) or {}
        joined, roster = int(counts.get("joined", 0)), int(counts.get("roster", 0))
        out[kind] = {"joined": joined, "roster": roster, "ratio": _ratio(joined, roster)}
    return out


def participation_sums(day_docs: Iterable[Mapping[str, Any]], *, last_day: str) -> dict[str, dict[str, dict[str, int]]]:
    """Per unit: joined and roster per channel kind, summing day documents up to a date (what the repository's
    aggregation computes)."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    for doc in day_docs:
        try:
            scope = parse_scope_key(str(doc.get("_id", "")))
        except ValueError:
            continue
        if scope.kind != DAY or scope.key > last_day:
            continue
        unit = out.setdefault(scope.unit, {kind: {"joined": 0, "roster": 0} for kind in events.CHANNEL_KINDS})
        for kind in events.CHANNEL_KINDS:
            for what in ("joined", "roster"):
                unit[kind][what] += _count(doc, f"participation.{what}.{kind}")
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
    figures["buckets"] = {key: clean.get(key, 0) for key in histogram.BUCKET_KEYS}
    return figures


def _target(tree: Mapping[str, Any], name: str) -> dict[str, Any]:
    met, missed = _count(tree, f"targets.{name}.met"), _count(tree, f"targets.{name}.missed")
    return {"met": met, "missed": missed, "rate": _ratio(met, met + missed)}


def figures_of(
    docs: Iterable[Mapping[str, Any]], *, period: Period, unit: str,
    participation: Mapping[str, Mapping[str, int]] | None = None,
) -> dict[str, Any]:
    """One unit's (or the bureau's) figures for a period, before any suppression.

    Month documents outside the period or unit are ignored; ``participation`` is the unit's stock on the
    period's last day (``participation_sums``).
    """
    wanted = set(scope_keys_for(period, unit=unit))
    tree = merge_docs(doc for doc in docs if doc.get("_id") in wanted)
    kinds, categories = events.CHANNEL_KINDS, events.CATEGORIES
    resolved = {method: _count(tree, f"cases.resolved.{method}") for method in METHODS}
    return {
        "period": {
            "key": period.key, "kind": period.kind,
            "start": period.start.isoformat(), "last_day": period.last_day.isoformat(),
        },
        "unit": unit,
        "participation": {
            **participation_figures(participation),
            "joins": _table(tree, "participation.joins", kinds),
            "leaves": _table(tree, "participation.leaves", kinds),
        },
        "concerns": {
            "total": _count(tree, "concerns.total"),
            "by_channel": _table(tree, "concerns.by_channel", kinds),
            "by_category": _table(tree, "concerns.by_category", categories),
            "by_severity": _table(tree, "concerns.by_severity", events.SEVERITIES),
            "by_route": _table(tree, "concerns.by_route", ROUTES),
            "flags": _table(tree, "concerns.flags", events.RISK_FLAGS),
            "crisis": _count(tree, "concerns.crisis"),
            "overridden": _count(tree, "concerns.overridden"),
            "merged": _count(tree, "concerns.merged"),
            "crisis_fast_path": _count(tree, "concerns.crisis_fast_path"),
        },
        "chatter": {
            "dismissed": _count(tree, "chatter.dismissed"),
            "by_channel": _table(tree, "chatter.by_channel", kinds),
            "overridden": _count(tree, "chatter.overridden"),
        },
        "cases": {
            "opened": _count(tree, "cases.opened"),
            "opened_by_channel": _table(tree, "cases.opened_by_channel", kinds),
            "opened_by_category": _table(tree, "cases.opened_by_category", categories),
            "crisis": _count(tree, "cases.crisis"),
            "assignments": _count(tree, "cases.assignments"),
            "resolved": {**resolved, "total": sum(resolved.values())},
            "resolved_by_channel": _table(tree, "cases.resolved_by_channel", kinds),
            "resolved_by_category": _table(tree, "cases.resolved_by_category", categories),
            "reopened": _count(tree, "cases.reopened"),
        },
        "talks": {"scheduled": _count(tree, "talks.scheduled"), "held": _count(tree, "talks.held")},
        "escalations": {
            "raised": _count(tree, "escalations.raised"),
            "by_category": _table(tree, "escalations.by_category", categories),
            "decided": _count(tree, "escalations.decided"),
            "by_decision": _table(tree, "escalations.by_decision", ()),
        },
        "oversight": {
            "found": _count(tree, "oversight.found"),
            "by_channel": _table(tree, "oversight.by_channel", ITEM_CHANNELS),
            "by_category": _table(tree, "oversight.by_category", categories),
            "resolved": _count(tree, "oversight.resolved"),
            "not_substantiated": _count(tree, "oversight.not_substantiated"),
            "reopened": _count(tree, "oversight.reopened"),
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
        # The reading list: messages first read (and how many within their reading target), and those that
        # passed their target unread, by target (crisis 5 min, high 30 min, one working day).
        "reading": {
            "read": _table(tree, "reading.read", READING_TARGETS),
            "read_total": sum(_count(tree, f"reading.read.{t}") for t in READING_TARGETS),
            "read_within_target": _table(tree, "reading.read_within_target", READING_TARGETS),
            "read_within_target_total": sum(_count(tree, f"reading.read_within_target.{t}") for t in READING_TARGETS),
            "overdue": _table(tree, "reading.overdue", READING_TARGETS),
            "overdue_total": sum(_count(tree, f"reading.overdue.{t}") for t in READING_TARGETS),
        },
    }


# Each breakdown table adds up to its total: (table, total, keys of the table that are not cells).
BREAKDOWNS: tuple[tuple[str, str, frozenset[str]], ...] = tuple(
    (table, total, frozenset({"total"}) if table == "cases.resolved" else frozenset())
    for table, total in (
        ("concerns.by_channel", "concerns.total"), ("concerns.by_category", "concerns.total"),
        ("concerns.by_severity", "concerns.total"), ("concerns.by_route", "concerns.total"),
        ("chatter.by_channel", "chatter.dismissed"),
        ("cases.opened_by_channel", "cases.opened"), ("cases.opened_by_category", "cases.opened"),
        ("cases.resolved", "cases.resolved.total"), ("cases.resolved_by_channel", "cases.resolved.total"),
        ("cases.resolved_by_category", "cases.resolved.total"),
        ("escalations.by_category", "escalations.raised"), ("escalations.by_decision", "escalations.decided"),
        ("oversight.by_channel", "oversight.found"), ("oversight.by_category", "oversight.found"),
        ("durations.first_response.buckets", "durations.first_response.count"),
        ("durations.resolution.buckets", "durations.resolution.count"),
        ("reading.read", "reading.read_total"), ("reading.read_within_target", "reading.read_within_target_total"),
        ("reading.overdue", "reading.overdue_total"),
    )
)
# Figures that are the same count under two names.
EQUAL: tuple[tuple[str, str], ...] = (("durations.resolution.count", "cases.resolved.total"),)
# Counts outside disclosure control (deliveries to groups identify nobody) and values that are not counts.
_NOT_COUNTS = ("period.", "unit", "broadcasts.", "durations.first_response.limit", "durations.resolution.limit")


def counts_of(figures: Mapping[str, Any], prefix: str = "") -> dict[str, int]:
    """Every count in a report, by path (ratios, rates, medians and flags left out)."""
    out: dict[str, int] = {}
    for name, value in figures.items():
        path = f"{prefix}{name}"
        if path.startswith(_NOT_COUNTS) or name in ("suppressed", "suppression"):
            continue
        if isinstance(value, Mapping):
            out.update(counts_of(value, prefix=f"{path}."))
        elif isinstance(value, int) and not isinstance(value, bool):
            out[path] = value
    return out


def _align(reports: dict[str, dict[str, Any]]) -> None:
    """Give every report the same cells (a code seen in one unit is a zero in the others)."""
    for table, _, _ in BREAKDOWNS:
        codes: set[str] = set()
        for figures in reports.values():
            found = _get(figures, table)
            codes |= set(found) if isinstance(found, Mapping) else set()
        for figures in reports.values():
            found = _get(figures, table)
            if isinstance(found, dict):
                for code in sorted(codes - set(found)):
                    found[code] = 0


def equations_for(
    reports: Mapping[str, Mapping[str, Any]],
) -> tuple[dict[disclosure.Var, int], list[disclosure.Equation]]:
    """The counts of a period's reports (one per unit and ``*``) and the equations they obey."""
    values: dict[disclosure.Var, int] = {}
    for unit, figures in reports.items():
        values.update({(unit, path): n for path, n in counts_of(figures).items()})
    equations: list[disclosure.Equation] = []
    for unit, figures in reports.items():
        for table, total, not_cells in BREAKDOWNS:
            cells = _get(figures, table)
            if not isinstance(cells, Mapping):
                continue
            equation: disclosure.Equation = {(unit, f"{table}.{code}"): 1 for code in cells if code not in not_cells}
            equation[(unit, total)] = -1
            equations.append(equation)
        for first, second in EQUAL:
            equations.append({(unit, first): 1, (unit, second): -1})
    units = [u for u in reports if u != ALL_UNITS]
    if ALL_UNITS in reports:
        for path in counts_of(reports[ALL_UNITS]):
            equation = {(ALL_UNITS, path): -1}
            equation.update({(unit, path): 1 for unit in units})
            equations.append(equation)
    return values, equations


def _set(tree: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = tree
    for part in parents:
        node = node[part]
    node[last] = value


def published(reports: dict[str, dict[str, Any]], *, threshold: int) -> dict[str, dict[str, Any]]:
    """The period's reports with disclosure control applied to all of them together (see ``disclosure``)."""
    _align(reports)
    values, equations = equations_for(reports)
    totals = {total for _, total, _ in BREAKDOWNS}

    def keep(var: disclosure.Var) -> int:
        # Rather a unit's cell than a total, rather a unit's figure than the bureau's.
        return (2 if var[0] == ALL_UNITS else 0) + (1 if var[1] in totals else 0)

    hidden = disclosure.protect(values, equations, threshold=threshold, keep=keep)
    for unit, figures in reports.items():
        mine = sorted(path for scope, path in hidden if scope == unit)
        for path in mine:
            _set(figures, path, None)
        part = figures["participation"]
        for kind in events.CHANNEL_KINDS:
            if part[kind]["joined"] is None or part[kind]["roster"] is None:
                part[kind]["ratio"] = None
        for target in figures["targets"].values():
            if target["met"] is None or target["missed"] is None:
                target["rate"] = None
        for durations in figures["durations"].values():
            if durations["count"] is None or any(v is None for v in durations["buckets"].values()):
                # Read from the hidden counts: the quantiles and whether they went over the limit go with them.
                durations["median_minutes"] = durations["p90_minutes"] = None
                durations["median_over_limit"] = durations["p90_over_limit"] = None
        figures["suppressed"] = mine
        figures["suppression"] = {"threshold": threshold, "method": "complementary"}
    return reports


# --- export ------------------------------------------------------------------------------------


def report_rows(figures: Mapping[str, Any], *, prefix: str = "") -> list[dict[str, Any]]:
    """Flatten a report into ``{"metric": "cases.resolved.answered_online", "value": 72}`` rows."""
    rows: list[dict[str, Any]] = []
    for name, value in figures.items():
        path = f"{prefix}{name}"
        if name == "suppressed":
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
