"""Oversight items with their outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from tongpin.oversight.repository.collections import ITEMS
from tongpin.shared.envelope import CloudEvent
from tongpin.shared.messaging.outbox import HIDE_OUTBOX, insert_once, stage


class ItemRepository:
    """Oversight items with their outbox."""

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._items = database[ITEMS]

    async def insert_once(self, document: dict[str, Any], events: list[CloudEvent]) -> bool:
        return await insert_once(self._items, document, events)

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
