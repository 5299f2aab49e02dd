"""Broadcasts and the delivery figures intake reports."""

from __future__ import annotations

from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from tongpin.counselling.repository.collections import BROADCAST_DELIVERIES, BROADCASTS
from tongpin.shared.envelope import CloudEvent
from tongpin.shared.messaging.outbox import with_outbox


class BroadcastRepository:
    """Broadcasts composed by the committee or the centre, and the delivery figures intake reports."""

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._broadcasts = database[BROADCASTS]
        self._deliveries = database[BROADCAST_DELIVERIES]

    async def insert(self, document: dict[str, Any], events: list[CloudEvent]) -> None:
        await self._broadcasts.insert_one(with_outbox(document, events))

    async def get(self, broadcast_id: str) -> dict[str, Any] | None:
        return await self._broadcasts.find_one({"_id": broadcast_id}, {"outbox": 0})

    async def page(self, *, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        total = await self._broadcasts.count_documents({})
        cursor = self._broadcasts.find({}, {"outbox": 0}).sort("requested_at", DESCENDING)
        return [doc async for doc in cursor.skip(offset).limit(limit)], total

    async def record_delivery(self, document: dict[str, Any]) -> None:
        """One channel's outcome; the latest report per (broadcast, channel) wins."""
        await self._deliveries.replace_one({"_id": document["_id"]}, document, upsert=True)

    async def deliveries(self, broadcast_id: str) -> list[dict[str, Any]]:
        return [doc async for doc in self._deliveries.find({"broadcast_id": broadcast_id})]
