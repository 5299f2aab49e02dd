"""Each staff member's notification feed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from tongpin.counselling.repository.collections import NOTIFICATIONS


class NotificationRepository:
    """Each staff member's feed; the webhook worker delivers what is pending."""

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._feed = database[NOTIFICATIONS]

    async def add(self, document: dict[str, Any]) -> bool:
        """Add one notification; False if that id is already in the feed (a redelivered cause)."""
        try:
            await self._feed.insert_one(document)
        except DuplicateKeyError:
            return False
        return True

    async def for_staff(
        self, staff_id: str, *, unread_only: bool, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        query: dict[str, Any] = {"staff_id": staff_id}
        if unread_only:
            query["read_at"] = None
        total = await self._feed.count_documents(query)
        cursor = self._feed.find(query, {"webhook_pending": 0}).sort("created_at", DESCENDING)
        return [doc async for doc in cursor.skip(offset).limit(limit)], total

    async def mark_read(self, notification_id: str, *, staff_id: str, at: datetime) -> dict[str, Any] | None:
        return await self._feed.find_one_and_update(
            {"_id": notification_id, "staff_id": staff_id}, {"$set": {"read_at": at}},
            return_document=ReturnDocument.AFTER,
        )

    async def webhook_pending(self, limit: int = 50) -> list[dict[str, Any]]:
        return [doc async for doc in self._feed.find({"webhook_pending": True}).limit(limit)]

    async def webhook_done(self, notification_id: str, *, at: datetime) -> None:
        await self._feed.update_one({"_id": notification_id},
                                    {"$set": {"webhook_pending": False, "webhook_sent_at": at}})
