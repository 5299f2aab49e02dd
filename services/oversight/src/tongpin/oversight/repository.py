"""The only module that knows oversight's collection names."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from tongpin.oversight.domain import ledger
from tongpin.oversight.domain.statistics import participation_sums, scope_fields
from tongpin.shared.envelope import CloudEvent
from tongpin.shared.messaging.outbox import HIDE_OUTBOX, stage, with_outbox

LEDGER = "ledger"
DIGESTS = "digests"
ITEMS = "items"
STATISTICS = "statistics"
SUBJECTS = "subjects"
THREADS = "threads"
UNITS = "units"
REJECTED = "rejected"
AUDIT_QUERIES = "audit_queries"

INDEXES = {
    LEDGER: [
        IndexModel([("seq", ASCENDING)], name="seq", unique=True),
        IndexModel([("type", ASCENDING)], name="type"),
        IndexModel([("appended_at", ASCENDING)], name="appended_at"),
    ],
    ITEMS: [
        IndexModel([("opened_at", ASCENDING)], name="opened_at"),
        IndexModel([("status", ASCENDING)], name="status"),
    ],
    STATISTICS: [IndexModel([("kind", ASCENDING), ("unit", ASCENDING), ("key", ASCENDING)], name="scope")],
    REJECTED: [IndexModel([("recorded_at", ASCENDING)], name="recorded_at")],
    AUDIT_QUERIES: [IndexModel([("at", ASCENDING)], name="at")],
}
OUTBOX_COLLECTIONS: list[str] = [ITEMS]


class LedgerConflict(RuntimeError):
    """Another writer took the next sequence number: the ledger must have a single writer."""


def mark_key(event_id: str) -> str:
    """A field-name-safe key for an event id (ids may contain dots)."""
    return hashlib.sha256(event_id.encode()).hexdigest()[:32]


class LedgerRepository:
    """The hash-chained ledger. One process appends (single writer); the lock serialises its appends.

    The unique ``seq`` index makes a second writer fail loudly instead of forking the chain.
    """

    def __init__(self, database: AsyncDatabase[Any], *, lock: asyncio.Lock | None = None) -> None:
        self._ledger = database[LEDGER]
        self._digests = database[DIGESTS]
        self._lock = lock or asyncio.Lock()
        # The appender keeps the chain head in memory: finding it by sorting costs a scan of the
        # whole ledger on FerretDB (about half a second at two thousand entries).
        self._head: dict[str, Any] | None = None

    async def get(self, event_id: str) -> dict[str, Any] | None:
        return await self._ledger.find_one({"_id": event_id})

    async def head(self) -> dict[str, Any] | None:
        if self._head is not None:
            return self._head
        return await self._ledger.find_one({}, sort=[("seq", DESCENDING)])

    async def append_once(
        self, *, event_id: str, entry: dict[str, Any], plan: list[dict[str, Any]], done: bool | None = None,
    ) -> dict[str, Any]:
        """Append an entry unless the event is already in the ledger; returns the stored record.

        ``done`` says the event moves no counter at all (by default: when its plan is empty).
        """
        existing = await self.get(event_id)
        if existing is not None:
            return existing
        async with self._lock:
            record = ledger.next_record(head=await self.head(), entry=entry)
            document = {
                "_id": event_id, **record, "type": entry.get("type"), "subject": entry.get("subject"),
                "appended_at": datetime.now(UTC), "stats_plan": plan,
                "stats_done": (not plan) if done is None else done,
            }
            try:
                await self._ledger.insert_one(document)
            except DuplicateKeyError as exc:
                self._head = None  # someone else appended: read the head again next time
                existing = await self.get(event_id)
                if existing is not None:
                    return existing
                raise LedgerConflict(f"ledger seq {record['seq']} was taken by another writer") from exc
            self._head = {"seq": record["seq"], "hash": record["hash"], "prev_hash": record["prev_hash"]}
            return document

    async def mark_stats_done(self, event_id: str) -> None:
        await self._ledger.update_one({"_id": event_id}, {"$set": {"stats_done": True}})

    async def count(self) -> int:
        return await self._ledger.count_documents({})

    async def page(self, *, after_seq: int, limit: int, event_type: str | None = None) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"seq": {"$gt": after_seq}}
        if event_type:
            query["type"] = event_type
        return await self._ledger.find(query).sort("seq", ASCENDING).limit(limit).to_list()

    async def walk(self, *, batch: int = 1000) -> AsyncIterator[dict[str, Any]]:
        """Every record in seq order, fetched in batches."""
        after = 0
        while True:
            docs = await self._ledger.find({"seq": {"$gt": after}}).sort("seq", ASCENDING).limit(batch).to_list()
            for doc in docs:
                yield doc
            if len(docs) < batch:
                return
            after = int(docs[-1]["seq"])

    async def head_before(self, at: datetime) -> dict[str, Any] | None:
        return await self._ledger.find_one({"appended_at": {"$lt": at}}, sort=[("seq", DESCENDING)])

    async def save_digest(self, digest: dict[str, Any]) -> dict[str, Any]:
        """Keep the first digest computed for a date (later calls return that one)."""
        try:
            await self._digests.insert_one({"_id": digest["date"], **digest, "exported_at": datetime.now(UTC)})
        except DuplicateKeyError:
            pass
        stored = await self._digests.find_one({"_id": digest["date"]})
        assert stored is not None
        return stored

    async def digest(self, day: str) -> dict[str, Any] | None:
        return await self._digests.find_one({"_id": day})

    async def digest_before(self, day: str) -> dict[str, Any] | None:
        return await self._digests.find_one({"_id": {"$lt": day}}, sort=[("_id", DESCENDING)])


class StatisticsRepository:
    """Pre-aggregated counters, one document per scope (month or day, per unit and all units).

    FerretDB 1.24 does not apply concurrent ``$inc`` updates of one document atomically (30
    concurrent increments were measured to leave 1 to 4), so a process serialises its counter
    writes with ``lock``; like the ledger, statistics have a single writer process.
    """

    def __init__(self, database: AsyncDatabase[Any], *, lock: asyncio.Lock | None = None) -> None:
        self._stats = database[STATISTICS]
        self._units = database[UNITS]
        self._lock = lock or asyncio.Lock()
        self._noted: set[str] = set()

    async def apply_once(self, *, event_id: str, scope: str, fields: dict[str, int]) -> bool:
        """Add an event's fields to one scope exactly once; a repeat finds the event's mark and does nothing.

        The mark ``marks.<event>`` is set in the same atomic update as the ``$inc``; it is removed by
        ``clear_marks`` only after the ledger records the event's statistics as done.
        """
        async with self._lock:
            return await self._apply_once(event_id=event_id, scope=scope, fields=fields)

    async def _apply_once(self, *, event_id: str, scope: str, fields: dict[str, int]) -> bool:
        mark = f"marks.{mark_key(event_id)}"
        for _ in range(5):
            try:
                result = await self._stats.update_one(
                    {"_id": scope, mark: {"$exists": False}},
                    {"$inc": fields, "$set": {mark: 1}, "$setOnInsert": scope_fields(scope)},
                    upsert=True,
                )
            except DuplicateKeyError:
                # Either the scope carries this event's mark (already applied), or another event
                # created the scope at the same moment (then try again, now as an update).
                if await self._stats.find_one({"_id": scope, mark: {"$exists": True}}, {"_id": 1}):
                    return False
                continue
            return result.modified_count > 0 or result.upserted_id is not None
        raise RuntimeError(f"could not apply statistics to {scope}")

    async def clear_marks(self, *, event_id: str, scopes: Iterable[str]) -> None:
        mark = f"marks.{mark_key(event_id)}"
        ops = [UpdateOne({"_id": scope}, {"$unset": {mark: ""}}) for scope in scopes]
        if ops:
            async with self._lock:
                await self._stats.bulk_write(ops, ordered=False)

    async def months(self, *, keys: Sequence[str], unit: str | None) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"kind": "month", "key": {"$in": list(keys)}}
        if unit is not None:
            query["unit"] = unit
        return await self._stats.find(query, {"marks": 0}).to_list()

    async def participation_until(self, *, last_day: str) -> dict[str, dict[str, dict[str, int]]]:
        """Per unit (and ``*``): members joined and roster per channel kind, summing day deltas up to a date.

        Summed here rather than with ``$group``: FerretDB 1.24 was measured to return 0 for the second of
        two ``$sum`` accumulators over sibling nested fields.
        """
        query = {"kind": "day", "key": {"$lte": last_day}}
        docs = await self._stats.find(query, {"participation": 1, "kind": 1, "key": 1, "unit": 1}).to_list()
        return participation_sums(docs, last_day=last_day)

    async def month_span(self) -> tuple[str | None, str | None]:
        """The first and last months the bureau has any figure in."""
        query = {"kind": "month", "unit": "*"}
        first = await self._stats.find_one(query, {"key": 1}, sort=[("kind", ASCENDING), ("unit", ASCENDING),
                                                                     ("key", ASCENDING)])
        last = await self._stats.find_one(query, {"key": 1}, sort=[("kind", ASCENDING), ("unit", ASCENDING),
                                                                    ("key", DESCENDING)])
        return (first or {}).get("key"), (last or {}).get("key")

    async def note_unit(self, unit: str) -> None:
        if unit in self._noted:
            return
        await self._units.update_one({"_id": unit}, {"$setOnInsert": {"seen_at": datetime.now(UTC)}}, upsert=True)
        self._noted.add(unit)

    async def unit_known(self, unit: str) -> bool:
        return await self._units.find_one({"_id": unit}) is not None

    async def units(self) -> list[str]:
        return [doc["_id"] async for doc in self._units.find({}).sort("_id", ASCENDING)]


class SubjectRepository:
    """Subjects (cases, escalations, items, concerns) introduced by accepted events, for ordering checks.

    A subject also names the thread (the concern) it belongs to, so an event about a case finds its thread.
    """

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._subjects = database[SUBJECTS]

    async def known(self, keys: Iterable[tuple[str, str]], *, except_event: str) -> set[tuple[str, str]]:
        """The given (kind, id) pairs already introduced by an event other than ``except_event``."""
        wanted = {f"{kind}:{ident}": (kind, ident) for kind, ident in keys}
        if not wanted:
            return set()
        found = await self._subjects.find({"_id": {"$in": list(wanted)}}).to_list()
        return {wanted[doc["_id"]] for doc in found if doc.get("event_id") != except_event}

    async def introduce(self, *, kind: str, ident: str, event_id: str, thread: str | None = None) -> None:
        try:
            await self._subjects.insert_one({"_id": f"{kind}:{ident}", "event_id": event_id, "thread": thread})
        except DuplicateKeyError:
            pass

    async def thread_of(self, *, kind: str, ident: str) -> str | None:
        doc = await self._subjects.find_one({"_id": f"{kind}:{ident}"})
        return str(doc["thread"]) if doc and doc.get("thread") else None


class ThreadRepository:
    """Each concern's thread: its state, what it counts now, and the counter changes still to apply.

    Written by the consumer only. ``save`` stores the new state, its counts and the counter changes
    (the plan) in one atomic update, so a process that dies before applying them finds the plan on
    redelivery (the ledger's ``stats_done`` says whether it still must); ``applied`` remembers which
    events the state already includes.
    """

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._threads = database[THREADS]

    async def get(self, thread_id: str) -> dict[str, Any] | None:
        return await self._threads.find_one({"_id": thread_id})

    async def save(
        self, thread_id: str, *, version: int | None, state: dict[str, Any], counted: list[dict[str, Any]],
        mark: str, plan: list[dict[str, Any]],
    ) -> bool:
        """Store the thread after an event if nobody changed it meanwhile (False otherwise)."""
        # The plan replaces any earlier one: events are counted one after the other, so an earlier event's
        # plan was applied before this one was read.
        fields = {"state": state, "counted": counted, f"applied.{mark}": True, "pending": {mark: plan}}
        if version is None:
            try:
                await self._threads.insert_one({"_id": thread_id, "version": 1, "state": state, "counted": counted,
                                                "applied": {mark: True}, "pending": {mark: plan}})
            except DuplicateKeyError:
                return False
            return True
        result = await self._threads.update_one({"_id": thread_id, "version": version},
                                                {"$set": {**fields, "version": version + 1}})
        return result.modified_count == 1



class RejectedRepository:
    """Events refused with their reason; ordering refusals count their attempts before becoming final."""

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._rejected = database[REJECTED]

    async def defer(self, *, event_id: str, summary: dict[str, Any], reason: str) -> int:
        """Count one more "not yet" for an event; returns how many there have been."""
        doc = await self._rejected.find_one_and_update(
            {"_id": event_id},
            {"$inc": {"attempts": 1}, "$set": {"reason": reason, "final": False, "event": summary,
                                                "recorded_at": datetime.now(UTC)}},
            upsert=True, return_document=True,
        )
        return int(doc["attempts"]) if doc else 1

    async def reject(self, *, event_id: str, summary: dict[str, Any], reason: str) -> None:
        await self._rejected.update_one(
            {"_id": event_id},
            {"$set": {"reason": reason, "final": True, "event": summary, "recorded_at": datetime.now(UTC)}},
            upsert=True,
        )

    async def forget_deferral(self, event_id: str) -> None:
        await self._rejected.delete_one({"_id": event_id, "final": False})

    async def page(self, *, offset: int, limit: int) -> list[dict[str, Any]]:
        return await self._rejected.find({"final": True}).sort("recorded_at", DESCENDING).skip(offset).limit(
            limit).to_list()


class ItemRepository:
    """Oversight items with their outbox."""

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._items = database[ITEMS]

    async def insert_once(self, document: dict[str, Any], events: list[CloudEvent]) -> bool:
        try:
            await self._items.insert_one(with_outbox(document, events))
        except DuplicateKeyError:
            return False
        return True

    async def get(self, item_id: str) -> dict[str, Any] | None:
        return await self._items.find_one({"_id": item_id}, HIDE_OUTBOX)

    async def replace_if_version(
        self, *, item_id: str, version: int, fields: dict[str, Any], events: list[CloudEvent]
    ) -> bool:
        """Write the new state if the stored version is still ``version`` (optimistic concurrency)."""
        result = await self._items.update_one({"_id": item_id, "version": version}, stage({"$set": fields}, events))
        return result.modified_count == 1

    async def page(
        self, *, offset: int, limit: int, status: str | None, start: datetime | None, end: datetime | None
    ) -> list[dict[str, Any]]:
        query: dict[str, Any] = {}
        if status:
            query["status"] = status
        if start is not None and end is not None:
            query["opened_at"] = {"$gte": start, "$lt": end}
        cursor = self._items.find(query, HIDE_OUTBOX)
        return await cursor.sort([("opened_at", ASCENDING), ("_id", ASCENDING)]).skip(offset).limit(limit).to_list()


class AuditQueryRepository:
    """Who queried what, and when."""

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._queries = database[AUDIT_QUERIES]

    async def record(self, document: dict[str, Any]) -> None:
        await self._queries.insert_one(document)

    async def page(self, *, offset: int, limit: int) -> list[dict[str, Any]]:
        return await self._queries.find({}).sort("at", DESCENDING).skip(offset).limit(limit).to_list()
