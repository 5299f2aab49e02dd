"""The only module that knows counselling's collection names."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from tongpin.shared.envelope import CloudEvent
from tongpin.shared.messaging.outbox import with_outbox

CONCERNS = "concerns"
CASES = "cases"

INDEXES = {
    CONCERNS: [IndexModel([("case_id", ASCENDING)], name="case_id")],
    CASES: [IndexModel([("state", ASCENDING)], name="state")],
}
OUTBOX_COLLECTIONS = [CASES]


class CaseRepository:
    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._concerns = database[CONCERNS]
        self._cases = database[CASES]

    async def merge_concern(self, concern_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Merge one half of a concern (its text, or its triage decision) and return both halves so far."""
        doc = await self._concerns.find_one_and_update(
            {"_id": concern_id}, {"$set": fields}, upsert=True, return_document=ReturnDocument.AFTER
        )
        assert doc is not None
        return doc

    async def forget_text(self, concern_id: str) -> None:
        await self._concerns.update_one({"_id": concern_id}, {"$unset": {"text": ""}})

    async def insert_case(self, document: dict[str, Any], events: list[CloudEvent]) -> bool:
        try:
            await self._cases.insert_one(with_outbox(document, events))
        except DuplicateKeyError:
            return False
        return True

    async def get_case(self, case_id: str) -> dict[str, Any] | None:
        return await self._cases.find_one({"_id": case_id})
