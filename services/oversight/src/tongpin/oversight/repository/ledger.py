"""The hash-chained ledger with its claims and daily digests, the appender's planned batches, and the events
refused with their reason."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from tongpin.oversight.repository.collections import DIGESTS, LEDGER, LEDGER_BATCHES, LEDGER_CLAIMS, REJECTED
from tongpin.shared.mongo import find_by_ids


class LedgerConflict(RuntimeError):
    """Another writer took the next sequence number: the ledger must have a single writer."""


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
        found = await find_by_ids(self._ledger, event_ids, {"_id": 1})
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
