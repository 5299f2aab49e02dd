"""The only module that knows intake's collection names."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from tongpin.shared.envelope import CloudEvent
from tongpin.shared.messaging.outbox import with_outbox

MESSAGES = "messages"

INDEXES = {
    MESSAGES: [
        IndexModel([("source_message_id", ASCENDING)], unique=True, name="source_message_id"),
        IndexModel([("channel_id", ASCENDING), ("sent_at", DESCENDING)], name="channel_sent"),
    ],
}
OUTBOX_COLLECTIONS = [MESSAGES]


class MessageRepository:
    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._messages = database[MESSAGES]

    async def insert_new(self, document: dict[str, Any], events: list[CloudEvent]) -> tuple[dict[str, Any], bool]:
        """Insert a message with its events; on a repeated source id return the stored one instead."""
        try:
            await self._messages.insert_one(with_outbox(document, events))
        except DuplicateKeyError:
            existing = await self._messages.find_one({"source_message_id": document["source_message_id"]})
            assert existing is not None
            return existing, False
        return document, True

    async def get(self, message_id: str) -> dict[str, Any] | None:
        return await self._messages.find_one({"_id": message_id})
