"""The only module that knows oversight's collection names."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from tongpin.oversight.domain.statistics import participation_sums, scope_fields
from tongpin.shared.envelope import CloudEvent
from tongpin.shared.messaging.outbox import HIDE_OUTBOX, stage, with_outbox

LEDGER = "ledger"
LEDGER_CLAIMS = "ledger_claims"
LEDGER_BATCHES = "ledger_batches"
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
    """The hash-chained ledger. One process appends (single writer: the oversight appender).

    The unique ``seq`` index makes a second writer fail loudly instead of forking the chain.
    """

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._ledger = database[LEDGER]
        self._claims = database[LEDGER_CLAIMS]
        self._digests = database[DIGESTS]

    async def get(self, event_id: str) -> dict[str, Any] | None:
        return await self._ledger.find_one({"_id": event_id})

    async def head_from_store(self) -> dict[str, Any] | None:
        """The last record (a scan of the whole ledger on FerretDB: the appender asks only when it starts)."""
        return await self._ledger.find_one({}, {"seq": 1, "hash": 1}, sort=[("seq", DESCENDING)])

    async def claim(self, event_ids: list[str]) -> set[str]:
        """Claim events before planning them, in one insert; the ids that were claimed before.

        An insert is checked by the unique index alone, while every find scans the ledger on FerretDB,
        so only events claimed before (redelivered, repeated or retried) are looked up.
        """
        now = datetime.now(UTC)
        try:
            await self._claims.insert_many([{"_id": eid, "claimed_at": now} for eid in event_ids], ordered=False)
        except BulkWriteError as exc:
            taken = [err for err in exc.details.get("writeErrors", []) if err.get("code") == 11000]
            if len(taken) != len(exc.details.get("writeErrors", [])):
                raise
            return {event_ids[int(err["index"])] for err in taken}
        return set()

    async def recorded(self, event_ids: Iterable[str]) -> list[str]:
        """Those of the events that are in the ledger."""
        found = await self._ledger.find({"_id": {"$in": list(event_ids)}}, {"_id": 1}).to_list()
        return [str(doc["_id"]) for doc in found]

    async def insert_records(self, records: list[dict[str, Any]]) -> None:
        """Insert a batch's records in one write; those already there (a repeat of the batch) stay as they are."""
        if not records:
            return
        try:
            await self._ledger.insert_many(records, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            for err in errors:
                stored = await self.get(records[int(err["index"])]["_id"]) if err.get("code") == 11000 else None
                if stored is None or stored.get("seq") != records[int(err["index"])]["seq"]:
                    raise LedgerConflict(f"ledger record {err.get('index')} of the batch was taken: {err}") from exc

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
    concurrent increments were measured to leave 1 to 4): the appender is the single writer, and
    writes each scope once per batch.
    """

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._stats = database[STATISTICS]
        self._units = database[UNITS]
        self._noted: set[str] = set()

    async def apply_batch(self, *, batch_no: int, scope: str, fields: dict[str, int]) -> bool:
        """Add a batch's changes to one scope exactly once: the batch number is set in the same atomic update
        as the ``$inc``, and a scope that already carries this batch's number (or a later one) is left alone.
        """
        update = {"$inc": fields, "$set": {"batch": batch_no}}
        try:
            result = await self._stats.update_one(
                {"_id": scope, "batch": {"$lt": batch_no}}, {**update, "$setOnInsert": scope_fields(scope)},
                upsert=True)
        except DuplicateKeyError:
            # The scope is there with this batch or a later one (done), or was written before batches had
            # numbers (then this is its first numbered batch).
            result = await self._stats.update_one({"_id": scope, "batch": {"$exists": False}}, update)
            return result.modified_count > 0
        return result.modified_count > 0 or result.upserted_id is not None

    async def months(self, *, keys: Sequence[str], unit: str | None) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"kind": "month", "key": {"$in": list(keys)}}
        if unit is not None:
            query["unit"] = unit
        return await self._stats.find(query, {"marks": 0, "batch": 0}).to_list()

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

    def __init__(self, database: AsyncDatabase[Any], *, cache_size: int = 200_000) -> None:
        self._subjects = database[SUBJECTS]
        # Subjects never change once introduced, and the appender is their one writer, so it keeps them
        # in memory: all of them after ``load`` (a subject not there was never introduced; no lookup, which
        # would scan the collection on FerretDB), else those it has seen.
        self._cache: dict[str, dict[str, Any]] = {}
        self._complete = False
        self._cache_size = cache_size

    async def load(self) -> None:
        """Read every subject once (the appender starting), unless there are more than the cache holds."""
        self._cache.clear()
        self._complete = False
        if await self._subjects.estimated_document_count() > self._cache_size:
            return
        async for doc in self._subjects.find({}):
            self._cache[str(doc["_id"])] = doc
        self._complete = len(self._cache) <= self._cache_size

    async def lookup(self, keys: Iterable[tuple[str, str]]) -> dict[str, dict[str, Any]]:
        """The given (kind, id) subjects that were introduced, by ``kind:id``: the event and thread of each."""
        ids = {f"{kind}:{ident}" for kind, ident in keys}
        found = {i: self._cache[i] for i in ids if i in self._cache}
        missing = [i for i in ids if i not in found]
        if missing and not self._complete:
            for doc in await self._subjects.find({"_id": {"$in": missing}}).to_list():
                found[str(doc["_id"])] = self._remember(doc)
        return found

    def _remember(self, doc: dict[str, Any]) -> dict[str, Any]:
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
            self._complete = False
        self._cache[str(doc["_id"])] = doc
        return doc

    async def introduce_many(self, subjects: list[dict[str, Any]]) -> None:
        """Store subjects (``_id`` "kind:id", ``event_id``, ``thread``); those already there stay as they are."""
        if not subjects:
            return
        try:
            await self._subjects.insert_many(subjects, ordered=False)
        except BulkWriteError as exc:
            if any(err.get("code") != 11000 for err in exc.details.get("writeErrors", [])):
                raise
        for doc in subjects:
            self._remember(dict(doc))


class ThreadRepository:
    """Each concern's thread: its state and what it counts now.

    Written by the appender only, once per batch that moves it: ``write`` stores the thread at the next
    version if it is still at the version the batch read, so repeating a batch's write changes nothing.
    The threads written are kept in memory, as the appender is their one writer.
    """

    def __init__(self, database: AsyncDatabase[Any], *, cache_size: int = 5_000, ids_size: int = 500_000) -> None:
        self._threads = database[THREADS]
        self._cache: dict[str, dict[str, Any]] = {}
        self._cache_size = cache_size
        # Every thread id, after ``load``: a thread not there does not exist yet (no lookup).
        self._ids: set[str] | None = None
        self._ids_size = ids_size

    async def load(self) -> None:
        """Read the ids of every thread once (the appender starting), unless there are too many."""
        self._cache.clear()
        self._ids = None
        if await self._threads.estimated_document_count() <= self._ids_size:
            self._ids = {str(doc["_id"]) async for doc in self._threads.find({}, {"_id": 1})}

    async def get(self, thread_id: str) -> dict[str, Any] | None:
        return await self._threads.find_one({"_id": thread_id})

    async def get_many(self, thread_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        ids = set(thread_ids)
        found = {i: self._cache[i] for i in ids if i in self._cache}
        missing = [i for i in ids if i not in found and (self._ids is None or i in self._ids)]
        if missing:
            for doc in await self._threads.find({"_id": {"$in": missing}}).to_list():
                found[str(doc["_id"])] = doc
        return found

    async def write(self, planned: dict[str, Any]) -> None:
        """Store a thread as a batch planned it (``read_version``: the version it was planned from, None if new)."""
        thread_id, read_version = planned["_id"], planned["read_version"]
        version = 1 if read_version is None else int(read_version) + 1
        doc = {"_id": thread_id, "version": version, "state": planned["state"], "counted": planned["counted"]}
        if read_version is None:
            try:
                await self._threads.insert_one(doc)
            except DuplicateKeyError:
                pass  # a repeat of the batch
        else:
            await self._threads.update_one(
                {"_id": thread_id, "version": read_version},
                {"$set": {"state": doc["state"], "counted": doc["counted"], "version": version}})
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
        self._cache[thread_id] = doc
        if self._ids is not None:
            self._ids.add(thread_id)
            if len(self._ids) > self._ids_size:
                self._ids = None


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

    async def forget_deferrals(self, event_ids: list[str]) -> None:
        if event_ids:
            await self._rejected.delete_many({"_id": {"$in": event_ids}, "final": False})

    async def page(self, *, offset: int, limit: int) -> list[dict[str, Any]]:
        return await self._rejected.find({"final": True}).sort("recorded_at", DESCENDING).skip(offset).limit(
            limit).to_list()


class BatchRepository:
    """The appender's planned batches, each kept until it is fully applied (``_id``: its first sequence number)."""

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._batches = database[LEDGER_BATCHES]

    async def write(self, plan: dict[str, Any]) -> None:
        try:
            await self._batches.insert_one(plan)
        except DuplicateKeyError as exc:
            raise LedgerConflict(f"a batch from seq {plan['_id']} is already planned: another writer?") from exc

    async def unfinished(self) -> list[dict[str, Any]]:
        return await self._batches.find({}).sort("_id", ASCENDING).to_list()

    async def finish(self, batch_no: int) -> None:
        await self._batches.delete_one({"_id": batch_no})


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
