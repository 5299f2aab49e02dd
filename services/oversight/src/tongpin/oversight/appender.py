"""Oversight's one ledger appender: it records consumed events a batch at a time.

Every delivery hands its event to the appender and waits for that event's outcome; while a batch is
being written, the next deliveries gather, so under load a batch holds what arrived meanwhile (up to
``max_batch``) and when idle an event goes alone. For each batch, in delivery order:

1. *claim* the events (one insert): an event claimed before is looked up in the ledger, and is a
   duplicate if it is there; a second copy within the batch is a duplicate of the first;
2. *plan* in memory: validate each event against the subjects known before it (those of earlier
   events of the batch included), give each accepted one the next sequence number and its hash-chained
   ledger record, move its concern's thread, and add up the counter changes of the whole batch by
   statistics scope (unit and period);
3. *write the plan* as one ``ledger_batches`` document (the batch's write-ahead record);
4. *apply* it: each thread once (at the version it was read), each scope's counters once with the
   batch number in the same atomic update, the subjects in one insert, the oversight items the batch
   opens or moves, and last the ledger records in one insert (a record in the ledger means its event
   is counted everywhere); then the plan document is removed.

Every step of *apply* is safe to repeat, so a process that dies anywhere after step 3 finishes the
batch when it starts again (before it appends anything new), and the redelivered events are then
found in the ledger. A process that dies before step 3 wrote nothing but claims, and redelivery
plans the events again. Sequence numbers are gap-free: the appender keeps the chain head in memory,
reads it from the ledger after recovery, and the unique ``seq`` index refuses a second writer.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

from pymongo.errors import ConnectionFailure

from tongpin.oversight.domain import items as item_domain
from tongpin.oversight.domain import ledger as ledger_domain
from tongpin.oversight.domain import statistics, threads, validation
from tongpin.oversight.domain.periods import SHANGHAI
from tongpin.oversight.handlers.common import NotYet, facts
from tongpin.oversight.handlers.items import follow_case, open_item
from tongpin.oversight.repository import (
    BatchRepository,
    ItemRepository,
    LedgerRepository,
    RejectedRepository,
    StatisticsRepository,
    SubjectRepository,
    ThreadRepository,
    mark_key,
)
from tongpin.shared import events, tracing
from tongpin.shared.envelope import CloudEvent
from tongpin.shared.logging import get_logger

log = get_logger(__name__)

RECORDED, DUPLICATE, REJECTED = "recorded", "duplicate", "rejected"


@dataclass
class _Waiting:
    event: CloudEvent
    data: events.EventData
    done: asyncio.Future[str]


@dataclass
class _Plan:
    """What one batch writes, built in memory before anything is written."""

    first_seq: int
    records: list[dict[str, Any]] = field(default_factory=list)
    threads: dict[str, dict[str, Any]] = field(default_factory=dict)
    counters: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    subjects: list[dict[str, Any]] = field(default_factory=list)
    item_events: list[dict[str, Any]] = field(default_factory=list)
    units: set[str] = field(default_factory=set)

    def document(self) -> dict[str, Any]:
        return {
            "_id": self.first_seq, "records": self.records,
            "threads": [{"_id": tid, **doc} for tid, doc in self.threads.items()],
            # Sub-documents, not dotted keys: a stored key may not contain a dot.
            "counters": [{"scope": scope, "fields": [{"path": p, "amount": n} for p, n in sorted(c.items()) if n]}
                         for scope, c in sorted(self.counters.items())],
            "subjects": self.subjects, "item_events": self.item_events, "units": sorted(self.units),
            "planned_at": datetime.now(UTC),
        }


class LedgerAppender:
    """The process's single writer of the ledger, the threads and the statistics."""

    def __init__(
        self, *, ledger: LedgerRepository, batches: BatchRepository, stats: StatisticsRepository,
        subjects: SubjectRepository, rejected: RejectedRepository, items: ItemRepository,
        threads_repo: ThreadRepository, max_deferrals: int, zone: tzinfo = SHANGHAI, max_batch: int = 200,
        linger: float = 0.0,
    ) -> None:
        self._ledger, self._batches, self._stats = ledger, batches, stats
        self._subjects, self._rejected, self._items, self._threads = subjects, rejected, items, threads_repo
        self._max_deferrals, self._zone, self._max_batch = max_deferrals, zone, max_batch
        self._linger = linger
        self._queue: list[_Waiting] = []
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._recovered = False
        self._head: dict[str, Any] | None = None

    # --- handing events in ------------------------------------------------------------------------

    async def record(self, event: CloudEvent, data: events.EventData) -> str:
        """Record one event with whatever else is waiting; its outcome, or the exception its batch raised."""
        done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._queue.append(_Waiting(event, data, done))
        self._wake.set()
        if self._worker is None or self._worker.done():
            # The worker inherits this caller's context (the runtime's business clock).
            self._worker = asyncio.create_task(self._run(), name="oversight-ledger-appender")
        outcome = await done
        if outcome == RECORDED:
            # On the span handling this event (the batch itself runs in the appender's own task).
            tracing.note("ledger.appended", {"cloudevents.event_id": event.id})
        return outcome

    async def stop(self) -> None:
        """Stop the worker (the service is stopping); events still waiting are left to redelivery."""
        worker, self._worker = self._worker, None
        if worker is not None and not worker.done():
            worker.cancel()
            try:
                await worker
            except asyncio.CancelledError:
                pass
        for waiting in self._queue:
            waiting.done.cancel()
        self._queue = []

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            if self._linger and len(self._queue) < self._max_batch:
                await asyncio.sleep(self._linger)  # let the rest of a burst join this batch
            self._wake.clear()
            while self._queue:
                batch, self._queue = self._queue[:self._max_batch], self._queue[self._max_batch:]
                batch = [w for w in batch if not w.done.done()]  # callers that gave up (cancelled)
                if batch:
                    await self._settle(batch)

    async def _settle(self, batch: list[_Waiting]) -> None:
        try:
            outcomes: list[str | Exception] = await self.record_batch([(w.event, w.data) for w in batch])
        except Exception as exc:
            if len(batch) == 1 or isinstance(exc, ConnectionFailure):
                outcomes = [exc] * len(batch)
            else:
                # One event that fails must not take the others to the retry tiers: each goes alone.
                log.warning("oversight.batch_failed", events=len(batch), error=repr(exc)[:300])
                for w in batch:
                    await self._settle([w])
                return
        for w, outcome in zip(batch, outcomes, strict=True):
            if w.done.done():
                continue
            if isinstance(outcome, BaseException):
                w.done.set_exception(outcome)
            else:
                w.done.set_result(outcome)

    # --- one batch --------------------------------------------------------------------------------

    async def record_batch(self, batch: list[tuple[CloudEvent, events.EventData]]) -> list[str | Exception]:
        """Record a batch of events in order; per event its outcome, or the exception to retry it with."""
        async with self._lock:
            try:
                if not self._recovered:
                    await self.recover()
                return await self._record(batch)
            except BaseException:
                # Whatever was half done is finished by recovery before the next batch.
                self._recovered = False
                raise

    async def recover(self) -> None:
        """Finish every batch whose plan was written but not fully applied, then read the chain head."""
        for plan in await self._batches.unfinished():
            log.warning("oversight.batch_recovered", first_seq=plan["_id"], records=len(plan["records"]))
            await self._apply(plan)
        self._head = await self._ledger.head_from_store()
        await self._subjects.load()
        await self._threads.load()
        self._recovered = True

    async def _record(self, batch: list[tuple[CloudEvent, events.EventData]]) -> list[str | Exception]:
        outcomes: list[str | Exception | None] = [None] * len(batch)
        first_of: dict[str, int] = {}
        for index, (event, _) in enumerate(batch):
            if event.id in first_of:
                outcomes[index] = DUPLICATE
            else:
                first_of[event.id] = index
        claimed_before = await self._ledger.claim(list(first_of))
        if claimed_before:
            for event_id in await self._ledger.recorded(claimed_before):
                outcomes[first_of[event_id]] = DUPLICATE
        todo = [i for i in first_of.values() if outcomes[i] is None]
        if not todo:
            return [o if o is not None else DUPLICATE for o in outcomes]

        # Subjects the batch asks about, and the threads of the cases it names.
        wanted: set[tuple[str, str]] = set()
        for i in todo:
            data = batch[i][1]
            wanted.update((p.kind, p.id) for p in validation.prerequisites(data))
            wanted.update(validation.introduces(data))
            key = threads.thread_key(data)
            if key is not None and key[0] == "case":
                wanted.add(key)
        known = await self._subjects.lookup(wanted)  # "kind:id" -> {"event_id", "thread"}

        plan = _Plan(first_seq=(int(self._head["seq"]) if self._head else 0) + 1)
        head = self._head
        accepted: list[int] = []
        thread_of: dict[int, str] = {}
        for i in todo:
            event, data = batch[i]
            reason = validation.rejection_reason(event)
            if reason is None:
                keys = [(p.kind, p.id) for p in validation.prerequisites(data)] + validation.introduces(data)
                present = {k for k in keys if (s := known.get(f"{k[0]}:{k[1]}")) is not None
                           and s.get("event_id") != event.id}
                reason = validation.ordering_reason(data, known=present)
            if reason in validation.RETRYABLE:
                attempts = await self._rejected.defer(event_id=event.id, summary=_summary(event), reason=str(reason))
                if attempts <= self._max_deferrals:
                    outcomes[i] = NotYet(
                        f"{reason}: attempt {attempts} of {self._max_deferrals + 1}")
                    continue
            if reason is not None:
                await self._rejected.reject(event_id=event.id, summary=_summary(event), reason=reason)
                log.warning("oversight.event_rejected", event_id=event.id, event_type=event.type, reason=reason)
                outcomes[i] = REJECTED
                continue
            thread_id = _thread_of(data, known)
            if thread_id is not None:
                thread_of[i] = thread_id
            for kind, ident in validation.introduces(data):
                subject_id = f"{kind}:{ident}"
                subject = {"_id": subject_id, "event_id": event.id, "thread": thread_id}
                known[subject_id] = subject
                plan.subjects.append(subject)
            accepted.append(i)

        current = await self._threads.get_many(set(thread_of.values()))
        for i in accepted:
            event, data = batch[i]
            steps = statistics.increments(statistics.event_facts(data, zone=self._zone))
            thread_id = thread_of.get(i)
            if thread_id is not None:
                before = plan.threads.get(thread_id) or current.get(thread_id)
                state = threads.apply(before["state"] if before else threads.empty(), data, mark=mark_key(event.id))
                after = threads.counted(state, zone=self._zone)
                delta = threads.changes(facts(before), after)
                steps += statistics.increments(statistics.month_facts(delta))
                read_version = current[thread_id]["version"] if thread_id in current else None
                plan.threads[thread_id] = {
                    "read_version": read_version, "state": state,
                    "counted": [{"month": m, "unit": u, "path": p, "amount": n}
                                for (m, u, p), n in sorted(after.items())],
                }
            for step in steps:
                plan.counters[step.scope_key][step.field_path] += step.amount
                unit = statistics.parse_scope_key(step.scope_key).unit
                if unit != statistics.ALL_UNITS:
                    plan.units.add(unit)
            record = ledger_domain.next_record(head=head, entry=_summary(event))
            head = record
            plan.records.append({
                "_id": event.id, **record, "type": record["entry"].get("type"),
                "subject": record["entry"].get("subject"), "appended_at": datetime.now(UTC),
            })
            if (isinstance(data, events.ConcernTriaged) and item_domain.opens_item(data)) or (
                    thread_id is not None and type(data) in item_domain.CASE_CHANGES):
                plan.item_events.append({"event": event.to_document(), "thread": thread_id})
            outcomes[i] = RECORDED

        if plan.records:
            document = plan.document()
            await self._batches.write(document)
            await self._apply(document)
            self._head = {"seq": head["seq"], "hash": head["hash"]} if head else self._head
        if accepted:
            retried = [batch[i][0].id for i in accepted if batch[i][0].id in claimed_before]
            await self._rejected.forget_deferrals(retried)
        return [o if o is not None else DUPLICATE for o in outcomes]

    async def _apply(self, plan: dict[str, Any]) -> None:
        """Write a planned batch; every step is safe to repeat."""
        batch_no = int(plan["_id"])
        await asyncio.gather(*(self._threads.write(doc) for doc in plan["threads"]))
        await asyncio.gather(*(
            self._stats.apply_batch(batch_no=batch_no, scope=c["scope"],
                                    fields={f["path"]: f["amount"] for f in c["fields"]})
            for c in plan["counters"] if c["fields"]))
        for unit in plan["units"]:
            await self._stats.note_unit(unit)
        await self._subjects.introduce_many(plan["subjects"])
        for item_event in plan["item_events"]:
            event = CloudEvent.model_validate(item_event["event"])
            data = events.decode_data(event)
            if isinstance(data, events.ConcernTriaged) and item_domain.opens_item(data):
                await open_item(decision=data, items=self._items, correlationid=event.correlationid,
                                                   traceparent=event.traceparent)
            elif item_event["thread"] is not None and type(data) in item_domain.CASE_CHANGES:
                await follow_case(data=data, thread_id=item_event["thread"], items=self._items,
                                                     correlationid=event.correlationid, traceparent=event.traceparent)
        # Last, so that a record in the ledger means its event is counted everywhere.
        await self._ledger.insert_records(plan["records"])
        await self._batches.finish(batch_no)


def _summary(event: CloudEvent) -> dict[str, Any]:
    return ledger_domain.without_person_ids(ledger_domain.ledger_entry_from_event(event))


def _thread_of(data: events.EventData, known: dict[str, dict[str, Any]]) -> str | None:
    key = threads.thread_key(data)
    if key is None:
        return None
    kind, ident = key
    if kind == "concern":
        return ident
    # An event about a case counts in the thread of the concern the case was opened from.
    subject = known.get(f"case:{ident}")
    return str(subject["thread"]) if subject and subject.get("thread") else f"case:{ident}"
