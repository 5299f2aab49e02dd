"""Deliveries of replies and broadcasts back out, with their schedule and attempts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from tongpin.intake.repository.collections import DELIVERIES, page
from tongpin.shared.envelope import CloudEvent
from tongpin.shared.messaging.outbox import stage, with_outbox


class DeliveryRepository:
    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._deliveries = database[DELIVERIES]

    async def insert(self, document: dict[str, Any], events: Sequence[CloudEvent] = ()) -> bool:
        """Insert a delivery; False when it already exists (a redelivered request)."""
        try:
            await self._deliveries.insert_one(with_outbox(document, events))
        except DuplicateKeyError:
            return False
        return True

    async def get(self, delivery_id: str) -> dict[str, Any] | None:
        return await self._deliveries.find_one({"_id": delivery_id}, {"outbox": 0})

    async def due(self, *, now: datetime, limit: int = 20) -> list[dict[str, Any]]:
        return await self._deliveries.find(
            {"status": "pending", "next_attempt_at": {"$lte": now}}, {"outbox": 0}
        ).sort("next_attempt_at", ASCENDING).limit(limit).to_list()

    async def claim(self, delivery_id: str, *, seen_next: datetime, lease_until: datetime) -> bool:
        """Take a due delivery for one attempt: only one worker wins, and a crash frees it when the lease ends."""
        result = await self._deliveries.update_one(
            {"_id": delivery_id, "status": "pending", "next_attempt_at": seen_next},
            {"$set": {"next_attempt_at": lease_until}},
        )
        return result.modified_count == 1

    async def record(self, delivery_id: str, *, update: dict[str, Any], events: Sequence[CloudEvent]) -> None:
        await self._deliveries.update_one({"_id": delivery_id}, stage(update, events))

    async def page(self, *, query: dict[str, Any], limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        docs = await page(self._deliveries.find(query, {"outbox": 0, "text": 0}).sort("created_at", DESCENDING),
                           limit=limit, offset=offset).to_list()
        return docs, await self._deliveries.count_documents(query)

    async def purge_text(self, *, created_before: datetime, now: datetime) -> int:
        result = await self._deliveries.update_many(
            {"created_at": {"$lt": created_before}, "status": {"$ne": "pending"}, "text_purged_at": None},
            {"$set": {"text": None, "title": None, "text_purged_at": now}},
        )
        return result.modified_count
