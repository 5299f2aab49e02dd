"""Oversight's handlers: one async function per command or query; dependencies arrive as parameters.

Consumed events are recorded by the ledger appender (``appender.py``) a batch at a time; the oversight
items its batches open or move go through ``open_item`` and ``follow_case`` here. Events about a
subject not yet seen (a ``case.resolved`` before its ``case.opened``) are "not yet" (``NotYet``): the
consumer retries them through its back-off tiers, and on the last delivery they are recorded as
rejected instead, so they are acked rather than dead-lettered.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from tongpin.oversight.domain import items as item_domain
from tongpin.oversight.domain import ledger as ledger_domain
from tongpin.oversight.domain import statistics, threads, validation
from tongpin.oversight.domain.periods import SHANGHAI, Period, local_date, local_midnight_utc, months_of
from tongpin.oversight.repository import (
    AuditQueryRepository,
    ItemRepository,
    LedgerRepository,
    StatisticsRepository,
)
from tongpin.shared import clock, events
from tongpin.shared.auth import Principal
from tongpin.shared.envelope import CloudEvent
from tongpin.shared.logging import get_logger
from tongpin.shared.problems import Conflict, Invalid, NotFound

log = get_logger(__name__)


class NotYet(RuntimeError):
    """An event about a subject oversight has not seen yet; the consumer retries it later."""


def _facts(doc: Mapping[str, Any] | None) -> dict[threads.Fact, int]:
    """What a stored thread counts, as facts."""
    return {(str(f["month"]), str(f["unit"]), str(f["path"])): int(f["amount"])
            for f in (doc or {}).get("counted") or []}


# --- oversight items ----------------------------------------------------------------------------


def _item_events(
    item: item_domain.OversightItem, *, correlationid: str | None, traceparent: str | None
) -> list[CloudEvent]:
    return [
        events.make_event(payload, subject=item.item_id, correlationid=correlationid, traceparent=traceparent)
        for payload in item.take_events()
    ]


async def open_item(
    *, decision: events.ConcernTriaged, items: ItemRepository, correlationid: str | None, traceparent: str | None
) -> bool:
    """Open the item a triage decision routed to oversight (once per concern)."""
    item = item_domain.OversightItem.from_decision(decision)
    staged = _item_events(item, correlationid=correlationid, traceparent=traceparent)
    return await items.insert_once(item.to_document(), staged)


async def follow_case(
    *, data: events.EventData, thread_id: str, items: ItemRepository, correlationid: str | None,
    traceparent: str | None,
) -> bool:
    """Move the item of the case's concern as the case moves (at the time the case moved); False if it stays."""
    change = item_domain.CASE_CHANGES[type(data)]
    item_id = item_domain.item_id_for(thread_id)
    for _ in range(8):
        stored = await items.get(item_id)
        if stored is None:
            return False
        item = item_domain.OversightItem.from_document(stored)
        if not item.follow_case(change, at=validation.occurred_at(data)):
            return False
        staged = _item_events(item, correlationid=correlationid, traceparent=traceparent)
        document = item.to_document()
        document.pop("_id")
        if await items.replace_if_version(item_id=item_id, version=int(stored["version"]), fields=document,
                                          events=staged):
            return True
    raise RuntimeError(f"item {item_id} kept changing")


async def change_item(
    *,
    items: ItemRepository,
    item_id: str,
    version: int,
    status: str | None,
    public_summary: str | None,
    correlationid: str | None,
    traceparent: str | None,
) -> dict[str, Any]:
    """Change an item's public status and/or summary if ``version`` is current (409 otherwise)."""
    stored = await items.get(item_id)
    if stored is None:
        raise NotFound("oversight item", item_id)
    item = item_domain.OversightItem.from_document(stored)
    if item.version != version:
        raise Conflict(f"the item is at version {item.version}, not {version}", current_version=item.version)
    now = clock.now()
    try:
        if status is not None and status != item.status:
            item.change_status(to=status, at=now, public_summary=public_summary)
        elif public_summary is not None:
            item.write_summary(text=public_summary, at=now)
        else:
            raise Invalid("status", "give a new status or a public_summary")
    except item_domain.IllegalStatusChange as exc:
        raise Conflict(str(exc), current_status=exc.current, allowed=list(exc.allowed)) from exc
    except item_domain.InvalidSummary as exc:
        raise Invalid("public_summary", exc.reason) from exc
    staged = _item_events(item, correlationid=correlationid, traceparent=traceparent)
    document = item.to_document()
    document.pop("_id")
    if not await items.replace_if_version(item_id=item_id, version=version, fields=document, events=staged):
        raise Conflict("the item changed meanwhile; read it again", current_version=None)
    return {"_id": item_id, **document}


# --- ledger ----------------------------------------------------------------------------------


async def verify_ledger(*, ledger: LedgerRepository, anchors: Mapping[int, str] | None = None) -> dict[str, Any]:
    """Walk the whole chain; name the first broken record and why."""
    start, prev, count = 1, ledger_domain.GENESIS, 0
    records: list[dict[str, Any]] = []
    walker = ledger.walk()
    while True:
        doc = await anext(walker, None)
        if doc is not None:
            records.append(doc)
            if len(records) < 1000:
                continue
        report = _verify_batch(records, start=start, prev=prev, anchors=anchors)
        count += report.count
        if not report.ok:
            return _chain_view(report, count=count)
        start, prev, records = start + report.count, report.head_hash, []
        if doc is None:
            break
    beyond = [seq for seq in (anchors or {}) if seq >= start]
    if beyond:
        missing = ledger_domain.ChainReport(ok=False, count=count, first_broken_seq=min(beyond),
                                            reason=ledger_domain.SEQUENCE_GAP, head_hash=prev)
        return _chain_view(missing, count=count)
    return _chain_view(ledger_domain.ChainReport(ok=True, count=count, head_hash=prev), count=count)


def _verify_batch(
    records: list[dict[str, Any]], *, start: int, prev: str, anchors: Mapping[int, str] | None
) -> ledger_domain.ChainReport:
    # The copies kept beside the hashed entry (for queries) must agree with it, or count as an edit.
    for index, doc in enumerate(records):
        raw = doc.get("entry")
        entry: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        if (doc.get("_id"), doc.get("type"), doc.get("subject")) != (
            entry.get("event_id"), entry.get("type"), entry.get("subject")
        ):
            report = ledger_domain.verify_chain(records[:index], start_seq=start, prev_hash=prev, anchors=anchors)
            if not report.ok:
                return report
            return ledger_domain.ChainReport(ok=False, count=report.count, first_broken_seq=start + report.count,
                                             reason=ledger_domain.HASH_MISMATCH, head_hash=report.head_hash)
    return ledger_domain.verify_chain(records, start_seq=start, prev_hash=prev, anchors=anchors)


def _chain_view(report: ledger_domain.ChainReport, *, count: int) -> dict[str, Any]:
    return {"ok": report.ok, "verified": count, "first_broken_seq": report.first_broken_seq,
            "reason": report.reason, "head_hash": report.head_hash}


async def daily_digest(*, ledger: LedgerRepository, day: date, zone: tzinfo = SHANGHAI) -> dict[str, Any]:
    """The chain head at the end of a local date (by when records were appended, on the system clock)."""
    today = local_date(datetime.now(UTC), zone)
    if day > today:
        raise Invalid("date", "the date is in the future")
    stored = await ledger.digest(day.isoformat())
    if stored is not None:
        return {**_digest_view(stored), "final": True}
    head = await ledger.head_before(local_midnight_utc(day + timedelta(days=1), zone))
    previous = await ledger.digest_before(day.isoformat())
    digest = ledger_domain.daily_digest(head, date=day, previous=previous)
    if day < today:
        return {**_digest_view(await ledger.save_digest(digest)), "final": True}
    return {**digest, "final": False}


def _digest_view(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {k: doc[k] for k in ("date", "seq", "hash", "count", "added")}


async def keep_daily_digests(*, ledger: LedgerRepository, every_seconds: float = 3600, zone: tzinfo = SHANGHAI) -> None:
    """Background loop: store yesterday's digest so it is fixed before anyone asks."""
    while True:
        try:
            await daily_digest(ledger=ledger, day=local_date(datetime.now(UTC), zone) - timedelta(days=1), zone=zone)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("oversight.digest_failed", error=repr(exc))
        await asyncio.sleep(every_seconds)


# --- statistics --------------------------------------------------------------------------------


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


# --- auditor queries ---------------------------------------------------------------------------


async def record_query(
    *, audit: AuditQueryRepository, principal: Principal, method: str, path: str, query: Sequence[tuple[str, str]]
) -> None:
    """Write down who asked what, and when, before the answer is given (the query as name/value pairs)."""
    await audit.record({
        "at": datetime.now(UTC), "who": principal.subject, "roles": sorted(principal.roles),
        "method": method, "path": path, "query": [{"name": name, "value": value} for name, value in query],
    })
