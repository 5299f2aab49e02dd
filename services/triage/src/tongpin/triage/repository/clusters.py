"""Clusters of one officer's related concerns, and themes: one category rising across many officers of a unit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from tongpin.triage.repository.collections import CLUSTERS, THEMES


class ClusterRepository:
    """Each officer's current cluster of related concerns, one document per officer."""

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._clusters = database[CLUSTERS]

    async def get(self, officer_id: str) -> dict[str, Any] | None:
        return await self._clusters.find_one({"_id": officer_id})

    async def start(self, officer_id: str, *, concern_id: str, at: datetime, previous: str | None) -> bool:
        """Start a new cluster with this concern first; False if another writer got there first."""
        doc = {"primary_concern_id": concern_id, "concern_ids": [concern_id], "first_at": at, "last_at": at,
               "open": True}
        if previous is None:
            try:
                await self._clusters.insert_one({"_id": officer_id, **doc})
            except DuplicateKeyError:
                return False
            return True
        result = await self._clusters.update_one({"_id": officer_id, "primary_concern_id": previous}, {"$set": doc})
        return result.modified_count == 1

    async def join(self, officer_id: str, *, primary: str, concern_id: str, at: datetime) -> bool:
        result = await self._clusters.update_one(
            {"_id": officer_id, "primary_concern_id": primary},
            {"$addToSet": {"concern_ids": concern_id}, "$max": {"last_at": at}},
        )
        return result.matched_count == 1

    async def close_containing(self, concern_ids: Sequence[str]) -> None:
        if concern_ids:
            await self._clusters.update_many({"concern_ids": {"$in": list(concern_ids)}}, {"$set": {"open": False}})

    async def reopen_primary(self, concern_ids: Sequence[str]) -> None:
        if concern_ids:
            await self._clusters.update_many({"primary_concern_id": {"$in": list(concern_ids)}},
                                             {"$set": {"open": True}})


class ThemeRepository:
    """Themes: one category rising across many officers in one unit."""

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._themes = database[THEMES]

    async def recent(self, *, unit: str, category: str, since: datetime) -> dict[str, Any] | None:
        return await self._themes.find_one(
            {"unit": unit, "category": category, "last_at": {"$gte": since}}, sort=[("last_at", DESCENDING)]
        )

    async def record(self, theme_id: str, *, unit: str, category: str, at: datetime, officers: int,
                     concerns: int) -> None:
        await self._themes.update_one(
            {"_id": theme_id},
            {"$setOnInsert": {"unit": unit, "category": category, "first_at": at},
             "$max": {"last_at": at, "officer_count": officers, "concern_count": concerns}},
            upsert=True,
        )

    async def page(self, *, filters: dict[str, Any], limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        cursor = self._themes.find(filters).sort("last_at", DESCENDING).skip(offset).limit(limit)
        return [doc async for doc in cursor], await self._themes.count_documents(filters)
