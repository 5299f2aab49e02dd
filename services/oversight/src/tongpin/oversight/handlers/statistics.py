"""Statistics: every unit's report of a period with disclosure control, the public figure and the calendar."""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Mapping
from datetime import tzinfo
from typing import Any

from tongpin.oversight.domain import ledger as ledger_domain
from tongpin.oversight.domain import statistics
from tongpin.oversight.domain.periods import Period, local_date, months_of
from tongpin.oversight.repository import StatisticsRepository
from tongpin.shared import clock
from tongpin.shared.problems import Invalid


async def check_unit(*, stats: StatisticsRepository, unit: str | None) -> str:
    """The unit scope to read: ``*`` for all units, or a unit oversight has seen (422 otherwise)."""
    if unit is None or unit == statistics.ALL_UNITS:
        return statistics.ALL_UNITS
    if not ledger_domain.ID_RE.fullmatch(unit) or not await stats.unit_known(unit):
        raise Invalid("unit", f"unknown unit {unit!r}")
    return unit


_PUBLISHED: OrderedDict[str, dict[str, dict[str, Any]]] = OrderedDict()
_PUBLISHED_KEEP = 64


async def period_reports(
    *, stats: StatisticsRepository, period: Period, threshold: int
) -> dict[str, dict[str, Any]]:
    """Every unit's report and the bureau's (``*``) for one period, with disclosure control applied to all at once.

    The pattern of hidden cells depends only on the figures, so it is remembered for the same figures.
    """
    months = await stats.months(keys=months_of(period), unit=None)
    participation = await stats.participation_until(last_day=period.last_day.isoformat())
    fingerprint = hashlib.sha256(json.dumps(
        [period.key, threshold, sorted((str(d["_id"]), _plain(d)) for d in months), participation],
        sort_keys=True, default=str).encode()).hexdigest()
    cached = _PUBLISHED.get(fingerprint)
    if cached is None:
        units = sorted({str(doc["unit"]) for doc in months} | set(participation) | {statistics.ALL_UNITS})
        reports = {unit: statistics.figures_of(months, period=period, unit=unit,
                                               participation=participation.get(unit)) for unit in units}
        cached = statistics.published(reports, threshold=threshold)
        _PUBLISHED[fingerprint] = cached
        while len(_PUBLISHED) > _PUBLISHED_KEEP:
            _PUBLISHED.popitem(last=False)
    _PUBLISHED.move_to_end(fingerprint)
    return json.loads(json.dumps(cached))  # a copy the caller may change


def _plain(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in ("_id", "marks", "batch")}


async def statistics_report(
    *, stats: StatisticsRepository, period: Period, unit: str, threshold: int
) -> dict[str, Any]:
    """The report of one period and unit (a zero report when nothing happened), small counts suppressed."""
    reports = await period_reports(stats=stats, period=period, threshold=threshold)
    if unit in reports:
        return reports[unit]
    empty = statistics.published(
        {u: statistics.figures_of([], period=period, unit=u) for u in (unit, statistics.ALL_UNITS)},
        threshold=threshold)
    return empty[unit]


async def found_and_resolved(*, stats: StatisticsRepository, period: Period, threshold: int) -> dict[str, Any]:
    """The public figure: oversight items found and resolved in a period, for the bureau only, suppressed alike."""
    bureau = (await period_reports(stats=stats, period=period, threshold=threshold))[statistics.ALL_UNITS]
    figures = bureau["oversight"]
    return {"period": period.key, "found": figures["found"], "resolved": figures["resolved"],
            "not_substantiated": figures["not_substantiated"], "suppression": {"threshold": threshold}}


async def calendar(*, stats: StatisticsRepository, zone_name: str, zone: tzinfo) -> dict[str, Any]:
    """The bureau's time zone, its date and month now (business clock), and the months that hold figures."""
    now = clock.now()
    today = local_date(now, zone)
    first, last = await stats.month_span()
    offset = now.astimezone(zone).strftime("%z")
    return {"time_zone": zone_name, "utc_offset": f"{offset[:3]}:{offset[3:]}", "now": now.isoformat(),
            "today": today.isoformat(), "month": f"{today.year:04d}-{today.month:02d}", "year": f"{today.year:04d}",
            "first_month_with_data": first, "last_month_with_data": last}
