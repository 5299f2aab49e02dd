"""Messages as received, once per source id."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from tongpin.intake.repository.collections import MESSAGES, page
from tongpin.shared.envelope import CloudEvent
from tongpin.shared.messaging.outbox import with_outbox
from tongpin.shared.mongo import find_by_ids


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
        return await self._messages.find_one({"_id": message_id}, {"outbox": 0})

    async def page(self, *, query: dict[str, Any], limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        order = [("sent_at", DESCENDING), ("_id", ASCENDING)]
        docs = await page(self._messages.find(query, {"outbox": 0}).sort(order), limit=limit, offset=offset).to_list()
        return docs, await self._messages.count_documents(query)

    async def many(self, message_ids: Sequence[str]) -> list[dict[str, Any]]:
        if not message_ids:
            return []
        return await find_by_ids(self._messages, message_ids, {"outbox": 0})

    async def of_receipt(self, receipt_id: str) -> list[dict[str, Any]]:
        return await self._messages.find({"receipt_id": receipt_id}, {"outbox": 0}).sort("sent_at", ASCENDING).to_list()

    async def set_public_status(self, concern_id: str, *, status: str, at: datetime) -> dict[str, Any] | None:
        """Record oversight's public status unless a newer one is already there."""
        return await self._messages.find_one_and_update(
            {"_id": concern_id, "$or": [{"public_status_at": None}, {"public_status_at": {"$lte": at}}]},
            {"$set": {"public_status": status, "public_status_at": at}}, return_document=ReturnDocument.AFTER,
        )

    async def purge_text(self, *, sent_before: datetime, now: datetime) -> int:
        """Remove what people wrote from messages sent before the cutoff; ids, times and channel stay."""
        result = await self._messages.update_many(
            {"sent_at": {"$lt": sent_before}, "text_purged_at": None},
            {"$set": {"text": None, "attachments": [], "contact": None, "text_purged_at": now}},
        )
        return result.modified_count
