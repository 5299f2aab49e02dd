"""The only module that knows triage's collection names."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from tongpin.shared.envelope import CloudEvent
from tongpin.shared.messaging.outbox import with_outbox

DECISIONS = "decisions"

INDEXES = {
    DECISIONS: [IndexModel([("severity_rank", ASCENDING), ("raised_at", ASCENDING)], name="queue_order")],
}
OUTBOX_COLLECTIONS = [DECISIONS]


class DecisionRepository:
    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._decisions = database[DECISIONS]

    async def insert_once(self, document: dict[str, Any], events: list[CloudEvent]) -> bool:
        """Store a decision with its events unless this concern already has one."""
        try:
            await self._decisions.insert_one(with_outbox(document, events))
        except DuplicateKeyError:
            return False
        return True

    async def get(self, concern_id: str) -> dict[str, Any] | None:
        return await self._decisions.find_one({"_id": concern_id})
