"""The staff directory, the record of login attempts and the login throttle's counters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from tongpin.counselling.repository.collections import LOGIN_ATTEMPTS, LOGIN_THROTTLE, STAFF
from tongpin.shared.envelope import CloudEvent
from tongpin.shared.messaging.outbox import insert_once, stage


class StaffRepository:
    """The staff directory and the record of login attempts."""

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._staff = database[STAFF]
        self._attempts = database[LOGIN_ATTEMPTS]
        self._throttle = database[LOGIN_THROTTLE]

    async def insert(self, document: dict[str, Any], events: list[CloudEvent]) -> bool:
        return await insert_once(self._staff, document, events)

    async def get(self, staff_id: str) -> dict[str, Any] | None:
        return await self._staff.find_one({"_id": staff_id}, {"outbox": 0})

    async def by_username(self, username: str) -> dict[str, Any] | None:
        return await self._staff.find_one({"username": username}, {"outbox": 0})

    async def update(
        self, staff_id: str, *, update: dict[str, Any], events: list[CloudEvent], expected_version: int | None = None
    ) -> dict[str, Any] | None:
        query: dict[str, Any] = {"_id": staff_id}
        if expected_version is not None:
            query["version"] = expected_version
        # FerretDB 1.24 refuses a projection on findAndModify, so the outbox is dropped here.
        doc = await self._staff.find_one_and_update(query, stage(update, events),
                                                    return_document=ReturnDocument.AFTER)
        if doc is not None:
            doc.pop("outbox", None)
        return doc

    async def page(self, *, query: dict[str, Any], limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        total = await self._staff.count_documents(query)
        cursor = self._staff.find(query, {"outbox": 0, "password_hash": 0}).sort("_id", ASCENDING)
        return [doc async for doc in cursor.skip(offset).limit(limit)], total

    async def find(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        return [doc async for doc in self._staff.find(query, {"outbox": 0, "password_hash": 0}).sort("_id", 1)]

    async def record_attempt(self, document: dict[str, Any]) -> None:
        await self._attempts.insert_one(document)

    async def attempts_since(self, username: str, since: datetime) -> list[dict[str, Any]]:
        cursor = self._attempts.find({"username": username, "at": {"$gte": since}}).sort("at", ASCENDING)
        return [doc async for doc in cursor]

    async def throttle_counter(self, key: str) -> dict[str, Any] | None:
        return await self._throttle.find_one({"_id": key})

    async def save_throttle_counter(self, key: str, *, version: int | None, fields: dict[str, Any]) -> bool:
        """Store a counter if it is still at the version read (None: not there yet); False if it moved."""
        if version is None:
            try:
                await self._throttle.insert_one({"_id": key, **fields, "version": 1})
            except DuplicateKeyError:
                return False
            return True
        result = await self._throttle.update_one({"_id": key, "version": version},
                                                 {"$set": fields, "$inc": {"version": 1}})
        return result.modified_count == 1

    async def change_throttle_counter(self, key: str, update: dict[str, Any]) -> None:
        await self._throttle.update_one({"_id": key}, {**update, "$inc": {"version": 1, **update.get("$inc", {})}})
