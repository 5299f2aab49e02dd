"""Reading the counters back: scope documents merged into one unit's (or the bureau's) figures for a period,
before any suppression."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tongpin.oversight.domain import histogram
from tongpin.oversight.domain.periods import Period
from tongpin.oversight.domain.statistics.scopes import DAY, parse_scope_key, scope_keys_for
from tongpin.shared import events

ROUTES: tuple[str, ...] = tuple(r for r in events.Route.__args__ if r != "dismiss")  # type: ignore[attr-defined]
METHODS: tuple[str, ...] = events.ResolutionMethod.__args__  # type: ignore[attr-defined]
ITEM_CHANNELS = ("families", "supervision")
READING_TARGETS: tuple[str, ...] = events.ReadingTarget.__args__  # type: ignore[attr-defined]

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
