"""Receipts of the public form and their threads, and the counters behind its limits and lock-outs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from tongpin.intake.repository.collections import COUNTERS, LOCKOUTS, RECEIPTS


class ReceiptRepository:
    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._receipts = database[RECEIPTS]

    async def insert(self, document: dict[str, Any]) -> None:
        await self._receipts.insert_one(document)

    async def get(self, receipt_id: str) -> dict[str, Any] | None:
        return await self._receipts.find_one({"_id": receipt_id})

    async def add_entry(self, receipt_id: str, entry: dict[str, Any]) -> bool:
        """Append a thread entry once (its id makes a repeat a no-op)."""
        # Not with a filter {"thread.id": {"$ne": id}}: FerretDB 1.24 matches a thread that holds the id
        # ($ne, $nin and $not alike) and pushes it again. Entries are never removed, so the thread's length
        # is its version: push only onto the thread as read.
        for _ in range(20):
            found = await self._receipts.find_one({"_id": receipt_id}, {"thread": 1})
            if found is None:
                return False
            thread = found.get("thread") or []
            if any(e.get("id") == entry["id"] for e in thread):
                return False
            result = await self._receipts.update_one(
                {"_id": receipt_id, "thread": {"$size": len(thread)}}, {"$push": {"thread": entry}})
            if result.modified_count == 1:
                return True
        raise RuntimeError(f"receipt {receipt_id}'s thread kept changing")

    async def set_status(self, receipt_id: str, *, status: str, at: datetime) -> None:
        await self._receipts.update_one(
            {"_id": receipt_id, "$or": [{"status_at": None}, {"status_at": {"$lte": at}}]},
            {"$set": {"status": status, "status_at": at}},
        )


class GuardRepository:
    """Counters for rate limits and receipt-code lockouts, shared by every worker through the database."""

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._counters = database[COUNTERS]
        self._lockouts = database[LOCKOUTS]

    async def hit(self, key: str, *, expires_at: datetime) -> int:
        """Count one hit in a fixed window; returns the count including this one."""
        doc = await self._counters.find_one_and_update(
            {"_id": key}, {"$inc": {"count": 1}, "$setOnInsert": {"expires_at": expires_at}},
            upsert=True, return_document=ReturnDocument.AFTER,
        )
        assert doc is not None
        return int(doc["count"])

    async def count(self, key: str) -> int:
        doc = await self._counters.find_one({"_id": key})
        return int(doc["count"]) if doc else 0

    async def lockout(self, client: str) -> dict[str, Any] | None:
        return await self._lockouts.find_one({"_id": client})

    async def fail(self, client: str, *, now: datetime) -> dict[str, Any]:
        doc = await self._lockouts.find_one_and_update(
            {"_id": client}, {"$inc": {"failures": 1}, "$set": {"last_failure_at": now}},
            upsert=True, return_document=ReturnDocument.AFTER,
        )
        assert doc is not None
        return dict(doc)

    async def lock_until(self, client: str, *, until: datetime) -> None:
        await self._lockouts.update_one({"_id": client}, {"$set": {"locked_until": until}})

    async def forget_expired(self, *, now: datetime) -> None:
        await self._counters.delete_many({"expires_at": {"$lt": now}})
