"""Oversight's handlers: one async function per event or command; dependencies arrive as parameters.

Recording an event is a sequence of steps, each safe to repeat, so a process that dies anywhere in
it finishes the job when the broker redelivers the message (its inbox entry is written last):

1. validate (publisher, data, unit, order) — a refusal goes to ``rejected`` and moves no figure;
2. append the ledger entry once (``_id`` = event id), with the counter changes of a fact of its own
   (membership, roster, broadcast deliveries) as its statistics *plan*, computed once;
3. for an event about a concern, its case, talks, escalations or item: update the concern's thread
   and store, in the same atomic write, the counter changes its figures went through (``threads``);
4. apply each plan's increments scope by scope, with a per-event mark in the same atomic update
   (a repeat is a no-op), then mark the plan done and clear the marks;
5. remember the subjects the event introduces (and their thread);
6. open an oversight item when triage routed a families/supervision concern to oversight, and move
   the item of a case when the case's work starts, it is resolved or reopened.

Events about a subject not yet seen (a ``case.resolved`` before its ``case.opened``) are "not yet":
the handler raises so the consumer retries them through its back-off tiers, and on the last
delivery records them as rejected instead, so they are acked rather than dead-lettered.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Mapping, Sequence
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
    RejectedRepository,
    StatisticsRepository,
    SubjectRepository,
    ThreadRepository,
    mark_key,
)
from tongpin.shared import clock, events
from tongpin.shared.auth import Principal
from tongpin.shared.envelope import CloudEvent
from tongpin.shared.logging import get_logger
from tongpin.shared.problems import Conflict, Invalid, NotFound

log = get_logger(__name__)


class NotYet(RuntimeError):
    """An event about a subject oversight has not seen yet; the consumer retries it later."""


def _summary(event: CloudEvent) -> dict[str, Any]:
    return ledger_domain.without_person_ids(ledger_domain.ledger_entry_from_event(event))


def _steps(increments: Iterable[statistics.Increment]) -> list[dict[str, Any]]:
    # Sub-documents, not pairs: FerretDB stores no nested arrays.
    return [{"scope": inc.scope_key, "path": inc.field_path, "amount": inc.amount} for inc in increments]


async def record_event(
    *,
    event: CloudEvent,
    data: events.EventData,
    ledger: LedgerRepository,
    stats: StatisticsRepository,
    subjects: SubjectRepository,
    rejected: RejectedRepository,
    items: ItemRepository,
    threads_repo: ThreadRepository,
    max_deferrals: int,
    zone: tzinfo = SHANGHAI,
) -> bool:
    """Record one consumed event in the ledger, the statistics and the items; False if it was refused."""
    record = await ledger.get(event.id)
    thread_id: str | None = None
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
        thread_id = await _thread_of(data, subjects=subjects)
        plan = _steps(statistics.increments(statistics.event_facts(data, zone=zone)))
        record = await ledger.append_once(event_id=event.id, entry=_summary(event), plan=plan,
                                          done=not plan and thread_id is None)
        await rejected.forget_deferral(event.id)
    else:
        thread_id = await _thread_of(data, subjects=subjects)
    if not record.get("stats_done"):
        # The ledger says "counted" only once every counter the event moves has moved.
        await apply_plan(event_id=event.id, plan=record.get("stats_plan") or [], stats=stats)
        if thread_id is not None:
            await count_in_thread(event_id=event.id, data=data, thread_id=thread_id, threads_repo=threads_repo,
                                  stats=stats, zone=zone)
        await ledger.mark_stats_done(event.id)
    await stats.clear_marks(event_id=event.id, scopes={str(step["scope"]) for step in record.get("stats_plan") or []})
    for kind, ident in validation.introduces(data):
        await subjects.introduce(kind=kind, ident=ident, event_id=event.id, thread=thread_id)
    if isinstance(data, events.ConcernTriaged) and item_domain.opens_item(data):
        await open_item(decision=data, items=items, correlationid=event.correlationid,
                        traceparent=event.traceparent)
    if thread_id is not None and type(data) in item_domain.CASE_CHANGES:
        await follow_case(data=data, thread_id=thread_id, items=items, correlationid=event.correlationid,
                          traceparent=event.traceparent)
    return True


async def _thread_of(data: events.EventData, *, subjects: SubjectRepository) -> str | None:
    key = threads.thread_key(data)
    if key is None:
        return None
    kind, ident = key
    if kind == "concern":
        return ident
    # An event about a case counts in the thread of the concern the case was opened from.
    return await subjects.thread_of(kind="case", ident=ident) or f"case:{ident}"


def _facts(doc: Mapping[str, Any] | None) -> dict[threads.Fact, int]:
    return {(str(f["month"]), str(f["unit"]), str(f["path"])): int(f["amount"])
            for f in (doc or {}).get("counted") or []}


async def count_in_thread(
    *, event_id: str, data: events.EventData, thread_id: str, threads_repo: ThreadRepository,
    stats: StatisticsRepository, zone: tzinfo,
) -> None:
    """Apply an event to its thread and move the counters by the change in what the thread counts."""
    mark = mark_key(event_id)
    for _ in range(5):
        doc = await threads_repo.get(thread_id)
        if doc is not None and mark in (doc.get("applied") or {}):
            plan = (doc.get("pending") or {}).get(mark)
            break
        state = threads.apply(doc["state"] if doc else threads.empty(), data, mark=mark)
        after = threads.counted(state, zone=zone)
        delta = threads.changes(_facts(doc), after)
        plan = _steps(statistics.increments(statistics.month_facts(delta)))
        counted = [{"month": m, "unit": u, "path": p, "amount": n} for (m, u, p), n in sorted(after.items())]
        if await threads_repo.save(thread_id, version=doc["version"] if doc else None, state=state,
                                   counted=counted, mark=mark, plan=plan):
            break
    else:
        raise RuntimeError(f"thread {thread_id} kept changing")
    if plan is None:
        return
    await apply_plan(event_id=event_id, plan=plan, stats=stats)
    await stats.clear_marks(event_id=event_id, scopes={str(step["scope"]) for step in plan})


async def apply_plan(*, event_id: str, plan: Iterable[Mapping[str, Any]], stats: StatisticsRepository) -> None:
    """Apply an event's counter changes, grouped by scope document, each exactly once (marks)."""
    by_scope: dict[str, dict[str, int]] = defaultdict(dict)
    for step in plan:
        scope, path = str(step["scope"]), str(step["path"])
        by_scope[scope][path] = by_scope[scope].get(path, 0) + int(step["amount"])
    for scope, fields in by_scope.items():
        await stats.apply_once(event_id=event_id, scope=scope, fields=fields)
        unit = statistics.parse_scope_key(scope).unit
        if unit != statistics.ALL_UNITS:
            await stats.note_unit(unit)


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
    return {k: v for k, v in doc.items() if k not in ("_id", "marks")}


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
