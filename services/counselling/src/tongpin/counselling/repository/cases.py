"""Cases and the concerns they were opened from."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from pymongo import DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from tongpin.counselling.repository.collections import CASES, CONCERNS
from tongpin.counselling.repository.locks import DocumentLocks
from tongpin.shared.envelope import CloudEvent
from tongpin.shared.messaging.outbox import insert_once, stage
from tongpin.shared.mongo import find_by_ids


class CaseRepository:
    """Cases and the concerns (text and triage decision) they were opened from."""

    def __init__(self, database: AsyncDatabase[Any], *, locks: DocumentLocks | None = None) -> None:
        self._concerns = database[CONCERNS]
        self._cases = database[CASES]
        self._locks = locks or DocumentLocks()

    def lock(self, case_id: str) -> asyncio.Lock:
        """Serialises this process's writes to one case."""
        return self._locks(CASES, case_id)

    async def merge_concern(self, concern_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Merge one half of a concern (its text, or its triage decision) and return both halves so far."""
        doc = await self._concerns.find_one_and_update(
            {"_id": concern_id}, {"$set": fields}, upsert=True, return_document=ReturnDocument.AFTER
        )
        assert doc is not None
        return doc

    async def get_concern(self, concern_id: str) -> dict[str, Any] | None:
        return await self._concerns.find_one({"_id": concern_id})

    async def concerns(self, concern_ids: Sequence[str]) -> list[dict[str, Any]]:
        return await find_by_ids(self._concerns, concern_ids)

    async def concerns_merged_into(self, primary_concern_id: str) -> list[dict[str, Any]]:
        return [doc async for doc in self._concerns.find({"merged_into": primary_concern_id})]

    async def forget_text(self, concern_id: str) -> None:
        await self._concerns.update_one({"_id": concern_id}, {"$unset": {"text": ""}})

    async def insert_case(self, document: dict[str, Any], events: list[CloudEvent]) -> bool:
        """Store a new case with the events its opening causes; False if it exists already."""
        return await insert_once(self._cases, document, events)

    async def get_case(self, case_id: str) -> dict[str, Any] | None:
        return await self._cases.find_one({"_id": case_id}, {"outbox": 0})

    async def save_case(
        self, case_id: str, *, expected_version: int, update: dict[str, Any], events: list[CloudEvent]
    ) -> bool:
        """Apply an update and store its events if the case still has the version read; False otherwise."""
        result = await self._cases.update_one({"_id": case_id, "version": expected_version}, stage(update, events))
        return result.modified_count == 1

    async def flag(self, case_id: str, fields: dict[str, Any]) -> None:
        """Set bookkeeping flags that are not part of the case's versioned state."""
        await self._cases.update_one({"_id": case_id}, {"$set": fields})

    async def list_cases(self, *, query: dict[str, Any], limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        total = await self._cases.count_documents(query)
        cursor = self._cases.find(query, {"outbox": 0, "dialogue": 0}).sort("opened_at", DESCENDING)
        return [doc async for doc in cursor.skip(offset).limit(limit)], total

    async def find_cases(self, query: dict[str, Any], projection: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return [doc async for doc in self._cases.find(query, projection or {"outbox": 0, "dialogue": 0})]

    async def case_with_escalation(self, escalation_id: str) -> dict[str, Any] | None:
        return await self._cases.find_one({"escalation_ids": escalation_id}, {"outbox": 0})

    async def count_live_for(self, staff_id: str) -> int:
        return await self._cases.count_documents({"assignee_id": staff_id, "state": {"$ne": "resolved"}})
