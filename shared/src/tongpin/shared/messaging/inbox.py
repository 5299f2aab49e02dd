"""Inbox of processed event ids: redelivery or a second publish of the same event has one effect."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

INBOX_COLLECTION = "inbox"


class Inbox:
    """Remembers which events a consumer has fully handled (the event id is the document _id)."""

    def __init__(self, collection: AsyncCollection[Any]) -> None:
        self._coll = collection

    async def ping(self) -> None:
        await self._coll.database.command("ping")

    async def seen(self, event_id: str) -> bool:
        return await self._coll.find_one({"_id": event_id}, {"_id": 1}) is not None

    async def record(self, *, event_id: str, event_type: str) -> bool:
        """Record a handled event; False if it was already there."""
        try:
            await self._coll.insert_one({"_id": event_id, "type": event_type, "handled_at": datetime.now(UTC)})
        except DuplicateKeyError:
            return False
        return True
