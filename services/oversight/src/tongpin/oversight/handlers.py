"""Oversight's handlers: one async function per event or command; dependencies arrive as parameters.

Recording an event is a sequence of steps, each safe to repeat, so a process that dies anywhere in
it finishes the job when the broker redelivers the message (its inbox entry is written last):

1. validate (publisher, data, order) — a refusal goes to ``rejected`` and moves no figure;
2. append the ledger entry once (``_id`` = event id) together with the statistics *plan*
   (the counter increments, computed once, so a repeat applies the very same plan);
3. apply each scope's increments with a per-event mark in the same atomic update (a repeat is a
   no-op), mark the ledger record ``stats_done``, then clear the marks;
4. remember the subjects the event introduces, the facts later events replace, and its unit;
5. open an oversight item when triage routed a families/supervision concern to oversight.

Events about a subject not yet seen (a ``case.resolved`` before its ``case.opened``) are "not yet":
the handler raises so the consumer retries them through its back-off tiers, and on the last
delivery records them as rejected instead, so they are acked rather than dead-lettered.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tongpin.oversight.domain import items as item_domain
from tongpin.oversight.domain import ledger as ledger_domain
from tongpin.oversight.domain import statistics, validation
from tongpin.oversight.domain.periods import SHANGHAI, Period, local_date, months_of
from tongpin.oversight.repository import (
    AuditQueryRepository,
    ItemRepository,
    LedgerRepository,
    RejectedRepository,
    StatisticsRepository,
    SubjectRepository,
)
from tongpin.shared import events
from tongpin.shared.auth import Principal
from tongpin.shared.envelope import CloudEvent
from tongpin.shared.logging import get_logger
from tongpin.shared.problems import Conflict, Invalid, NotFound

log = get_logger(__name__)

# Facts a later event of the same kind replaces (its counts are reversed first).
_FACT_KEYS: dict[type[events.EventData], tuple[str, str]] = {
    events.ConcernTriaged: ("triaged", "concern_id"),
    events.CaseResolved: ("resolved", "case_id"),
}


class NotYet(RuntimeError):
    """An event about a subject oversight has not seen yet; the consumer retries it later."""


def _fact_key(data: events.EventData) -> str | None:
    spec = _FACT_KEYS.get(type(data))
    return f"{spec[0]}:{getattr(data, spec[1])}" if spec else None


def _summary(event: CloudEvent) -> dict[str, Any]:
    return ledger_domain.without_person_ids(ledger_domain.ledger_entry_from_event(event))


async def record_event(
    *,
    event: CloudEvent,
    data: events.EventData,
    ledger: LedgerRepository,
    stats: StatisticsRepository,
    subjects: SubjectRepository,
    rejected: RejectedRepository,
    items: ItemRepository,
    max_deferrals: int,
) -> bool:
    """Record one consumed event in the ledger, the statistics and the items; False if it was refused."""
    record = await ledger.get(event.id)
    if record is None:
        reason = validation.rejection_reason(event)
        if reason is None:
            keys = [(p.kind, p.id) for p in validation.prerequisites(data)] + validation.introduces(data)
            known = await subjects.known(keys, except_event=event.id)
            reason = validation.ordering_reason(data, known=known)
        if reason in validation.RETRYABLE:
            attempts = await rejected.defer(event_id=event.id, summary=_summary(event), reason=str(reason))
            if attempts <= max_deferrals:
                raise NotYet(f"{reason}: attempt {attempts} of {max_deferrals + 1}")
        if reason is not None:
            await rejected.reject(event_id=event.id, summary=_summary(event), reason=reason)
            log.warning("oversight.event_rejected", event_id=event.id, event_type=event.type, reason=reason)
            return False
        plan = await _plan(data=data, event=event, subjects=subjects, items=items)
        record = await ledger.append_once(event_id=event.id, entry=_summary(event), plan=plan)
        await rejected.forget_deferral(event.id)
    await _apply_statistics(event_id=event.id, record=record, ledger=ledger, stats=stats)
    for kind, ident in validation.introduces(data):
        await subjects.introduce(kind=kind, ident=ident, event_id=event.id)
    fact = _fact_key(data)
    if fact is not None:
        clean = ledger_domain.without_person_ids({"data": data.model_dump(mode="json")})["data"]
        await subjects.set_fact(fact, event_id=event.id, data=clean)
    if isinstance(data, events.ConcernTriaged) and item_domain.opens_item(data):
        await open_item(decision=data, items=items, correlationid=event.correlationid,
                        traceparent=event.traceparent)
    return True


async def _plan(
    *, data: events.EventData, event: CloudEvent, subjects: SubjectRepository, items: ItemRepository
) -> list[dict[str, Any]]:
    """The statistics increments of an accepted event, as stored on its ledger record."""
    unit = getattr(data, "unit", None)
    if unit is None and isinstance(data, events.OversightItemUpdated | events.OversightItemClosed):
        item = await items.get(data.item_id)
        unit = item.get("unit") if item else None
    previous = None
    fact_key = _fact_key(data)
    if fact_key is not None:
        fact = await subjects.fact(fact_key)
        if fact is not None and fact.get("event_id") != event.id:
            previous = fact["data"]
    increments = statistics.increments_for(
        event_type=event.type, data=data, at=validation.occurred_at(data), unit=unit, previous=previous,
    )
    # Sub-documents, not pairs: FerretDB stores no nested arrays.
    return [{"scope": inc.scope_key, "path": inc.field_path, "amount": inc.amount} for inc in increments]


async def _apply_statistics(
    *, event_id: str, record: Mapping[str, Any], ledger: LedgerRepository, stats: StatisticsRepository
) -> None:
    by_scope: dict[str, dict[str, int]] = defaultdict(dict)
    for step in record.get("stats_plan") or []:
        scope, path = str(step["scope"]), str(step["path"])
        by_scope[scope][path] = by_scope[scope].get(path, 0) + int(step["amount"])
    if not by_scope:
        return
    if not record.get("stats_done"):
        for scope, fields in by_scope.items():
            await stats.apply_once(event_id=event_id, scope=scope, fields=fields)
            unit = statistics.parse_scope_key(scope).unit
            if unit != statistics.ALL_UNITS:
                await stats.note_unit(unit)
        await ledger.mark_stats_done(event_id)
    await stats.clear_marks(event_id=event_id, scopes=by_scope)


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
    now = datetime.now(UTC)
    try:
        if status is not None and status != item.status:
            item.change_status(to=status, at=now, public_summary=public_summary)
        elif public_summary is not None:
            item.write_summary(text=public_summary, at=now)
        else:
            raise Invalid("status", "give a new status or a public_summary")
    except item_domain.IllegalStatusChange as exc:
        raise Conflict(str(exc), current_status=exc.current) from exc
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


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=SHANGHAI).astimezone(UTC)


async def daily_digest(*, ledger: LedgerRepository, day: date) -> dict[str, Any]:
    """The chain head at the end of a local date; kept once the day is over, provisional before."""
    today = local_date(datetime.now(UTC))
    if day > today:
        raise Invalid("date", "the date is in the future")
    stored = await ledger.digest(day.isoformat())
    if stored is not None:
        return {**_digest_view(stored), "final": True}
    head = await ledger.head_before(_local_midnight(day + timedelta(days=1)))
    previous = await ledger.digest_before(day.isoformat())
    digest = ledger_domain.daily_digest(head, date=day, previous=previous)
    if day < today:
        return {**_digest_view(await ledger.save_digest(digest)), "final": True}
    return {**digest, "final": False}


def _digest_view(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {k: doc[k] for k in ("date", "seq", "hash", "count", "added")}


async def keep_daily_digests(*, ledger: LedgerRepository, every_seconds: float = 3600) -> None:
    """Background loop: store yesterday's digest so it is fixed before anyone asks."""
    while True:
        try:
            await daily_digest(ledger=ledger, day=local_date(datetime.now(UTC)) - timedelta(days=1))
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


async def statistics_report(
    *, stats: StatisticsRepository, period: Period, unit: str, threshold: int
) -> dict[str, Any]:
    """The report of one period and unit, with small breakdown cells suppressed."""
    months = await stats.months(keys=months_of(period), unit=unit)
    days = await stats.days_until(last_day=period.last_day.isoformat(), unit=unit)
    return statistics.report(months, period=period, unit=unit, day_docs=days, threshold=threshold)


async def found_and_resolved(*, stats: StatisticsRepository, period: Period, threshold: int) -> dict[str, Any]:
    """The public figure: oversight items found and resolved in a period, overall and per unit."""
    docs = await stats.months(keys=months_of(period), unit=None)
    per_unit: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for doc in docs:
        per_unit[str(doc.get("unit"))].append(doc)

    def figures(unit_docs: list[Mapping[str, Any]]) -> dict[str, int]:
        tree = statistics.merge_docs(unit_docs)
        raw = tree.get("oversight")
        node: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        return {name: int(node.get(name, 0)) for name in ("found", "resolved", "not_substantiated")}

    overall = figures(per_unit.pop(statistics.ALL_UNITS, []))
    units = {unit: figures(unit_docs) for unit, unit_docs in sorted(per_unit.items())}
    found = statistics.suppress({u: f["found"] for u, f in units.items()}, threshold=threshold)
    by_unit = {
        unit: (f if found.values[unit] is not None else {k: None for k in f})
        for unit, f in units.items() if f["found"]
    }
    return {"period": period.key, **overall, "by_unit": by_unit, "suppression": {"threshold": threshold}}


# --- auditor queries ---------------------------------------------------------------------------


async def record_query(
    *, audit: AuditQueryRepository, principal: Principal, method: str, path: str, query: Sequence[tuple[str, str]]
) -> None:
    """Write down who asked what, and when, before the answer is given (the query as name/value pairs)."""
    await audit.record({
        "at": datetime.now(UTC), "who": principal.subject, "roles": sorted(principal.roles),
        "method": method, "path": path, "query": [{"name": name, "value": value} for name, value in query],
    })
