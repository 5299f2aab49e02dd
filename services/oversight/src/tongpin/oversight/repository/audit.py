"""The audit trail of queries: who read what, and when."""

from __future__ import annotations

from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from tongpin.oversight.repository.collections import AUDIT_QUERIES


class AuditQueryRepository:
    """Who queried what, and when."""

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._queries = database[AUDIT_QUERIES]

    async def record(self, document: dict[str, Any]) -> None:
        await self._queries.insert_one(document)

    async def page(self, *, offset: int, limit: int) -> list[dict[str, Any]]:
        return await self._queries.find({}).sort("at", DESCENDING).skip(offset).limit(limit).to_list()
