"""The only module that knows oversight's collection names."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

LEDGER = "ledger"

INDEXES = {LEDGER: [IndexModel([("type", ASCENDING)], name="type")]}
OUTBOX_COLLECTIONS: list[str] = []


class LedgerRepository:
    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._ledger = database[LEDGER]

    async def append_once(self, entry: dict[str, Any]) -> bool:
        try:
            await self._ledger.insert_one(entry)
        except DuplicateKeyError:
            return False
        return True

    async def count(self) -> int:
        return await self._ledger.count_documents({})
