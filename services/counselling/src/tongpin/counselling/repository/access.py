"""Break-glass reads: cases opened by someone who could not otherwise, with the reason they gave."""

from __future__ import annotations

from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from tongpin.counselling.repository.collections import BREAK_GLASS_READS


class BreakGlassRepository:
    """Reads of cases the reader could not open, each with its stated reason."""

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._reads = database[BREAK_GLASS_READS]

    async def insert(self, document: dict[str, Any]) -> None:
        await self._reads.insert_one(document)

    async def page(self, *, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        total = await self._reads.count_documents({})
        cursor = self._reads.find({}).sort("at", DESCENDING).skip(offset).limit(limit)
        return [doc async for doc in cursor], total

    async def months(self) -> list[str]:
        """The month of every read (counted by the caller; FerretDB groups no date expressions)."""
        return [doc["month"] async for doc in self._reads.find({}, {"month": 1})]
