"""Publishing a period's reports: the equations their counts obey (breakdowns add up to totals, units to
the bureau) and disclosure control applied to all of them together."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tongpin.oversight.domain import disclosure
from tongpin.oversight.domain.statistics.figures import _get
from tongpin.oversight.domain.statistics.scopes import ALL_UNITS
from tongpin.shared import events

DEFAULT_THRESHOLD = 3

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
