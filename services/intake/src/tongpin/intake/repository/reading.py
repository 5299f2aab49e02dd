"""The reading list."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from tongpin.intake.repository.collections import READING, page
from tongpin.shared.envelope import CloudEvent
from tongpin.shared.messaging.outbox import OUTBOX_FIELDS, stage


class ReadingRepository:
    """The reading list: one entry per message to be read, with its target, its reads and its events."""

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._items = database[READING]

    async def get(self, concern_id: str) -> dict[str, Any] | None:
        return await self._items.find_one({"_id": concern_id}, {"outbox": 0})

    async def insert(self, document: dict[str, Any]) -> bool:
        try:
            await self._items.insert_one(document)
        except DuplicateKeyError:
            return False
        return True

    async def update(self, concern_id: str, *, match: dict[str, Any], update: dict[str, Any],
                     events: Sequence[CloudEvent] = ()) -> dict[str, Any] | None:
        """Apply an update (with its events) when the entry still matches; the entry after, or None."""
        # No projection here: FerretDB 1.24's findAndModify does not implement one.
        after = await self._items.find_one_and_update(
            {"_id": concern_id, **match}, stage(update, list(events)) if events else update,
            return_document=ReturnDocument.AFTER,
        )
        return None if after is None else {k: v for k, v in after.items() if k not in OUTBOX_FIELDS}

    async def page(self, *, query: dict[str, Any], limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        # Crises first, then what is due soonest: the list reads top-down.
        order = [("crisis", DESCENDING), ("due_at", ASCENDING), ("_id", ASCENDING)]
        docs = await page(self._items.find(query, {"outbox": 0}).sort(order), limit=limit, offset=offset).to_list()
        return docs, await self._items.count_documents(query)

    async def count(self, query: dict[str, Any]) -> int:
        return await self._items.count_documents(query)

    async def overdue(self, *, now: datetime, limit: int) -> list[dict[str, Any]]:
        """Unread entries past their target whose on-call notice has not gone out yet."""
        cursor = self._items.find({"status": "unread", "overdue_notified": False, "due_at": {"$lt": now}},
                                  {"outbox": 0}).limit(limit)
        return await cursor.to_list()
