"""Channels, members (the roster) and memberships."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from tongpin.intake.repository.collections import CHANNELS, MEMBERS, MEMBERSHIPS, page
from tongpin.shared.cache import ProcessCache
from tongpin.shared.envelope import CloudEvent
from tongpin.shared.messaging.outbox import insert_once, stage

# Channels as read by id, kept per process and database for a short while: every message reads its channel,
# and channels change only through this repository, in the service's one process (README: one process per
# service), which drops what it kept before and after each change. The time limit bounds how long a change
# made around the service (by hand in the database) goes unseen.
CHANNEL_KEPT_SECONDS = 10.0
_KEPT_CHANNELS: ProcessCache[dict[str, Any] | None] = ProcessCache(seconds=CHANNEL_KEPT_SECONDS)


class ChannelRepository:
    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._channels = database[CHANNELS]

    def _changing(self, channel_id: str) -> None:
        _KEPT_CHANNELS.changing(self._channels.database.name, channel_id)

    async def insert(self, document: dict[str, Any]) -> bool:
        """Insert a new channel; False when its id or external group id is taken."""
        self._changing(document["_id"])
        try:
            await self._channels.insert_one(document)
        except DuplicateKeyError:
            return False
        finally:
            self._changing(document["_id"])
        return True

    async def get(self, channel_id: str) -> dict[str, Any] | None:
        return await _KEPT_CHANNELS.read(self._channels.database.name, channel_id,
                                         lambda: self._channels.find_one({"_id": channel_id}))

    async def update(self, channel_id: str, *, version: int, changes: dict[str, Any]) -> dict[str, Any] | None:
        """Apply changes if the stored version matches; None otherwise."""
        self._changing(channel_id)
        try:
            return await self._channels.find_one_and_update(
                {"_id": channel_id, "version": version}, {"$set": changes, "$inc": {"version": 1}},
                return_document=ReturnDocument.AFTER,
            )
        finally:
            self._changing(channel_id)

    async def listing(self, *, kind: str | None = None) -> list[dict[str, Any]]:
        query = {"kind": kind} if kind else {}
        return await self._channels.find(query).sort("_id", ASCENDING).to_list()

    async def first_of_kind(self, kind: str) -> dict[str, Any] | None:
        found = await self._channels.find({"kind": kind}).sort("_id", ASCENDING).limit(1).to_list()
        return found[0] if found else None


class MemberRepository:
    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._members = database[MEMBERS]

    async def get(self, member_id: str) -> dict[str, Any] | None:
        return await self._members.find_one({"_id": member_id})

    async def by_external_id(self, external_id: str) -> dict[str, Any] | None:
        return await self._members.find_one({"external_id": external_id})

    async def officer_external_ids(self) -> set[str]:
        cursor = self._members.find({"member_kind": {"$in": ["officer", "auxiliary"]}}, {"external_id": 1})
        return {doc["external_id"] async for doc in cursor}

    async def insert(self, document: dict[str, Any], events: Sequence[CloudEvent]) -> bool:
        return await insert_once(self._members, document, events)

    async def update(self, member_id: str, *, version: int, update: dict[str, Any],
                     events: Sequence[CloudEvent]) -> bool:
        """Apply an update with its events if the stored version matches."""
        update = {**update, "$inc": {**update.get("$inc", {}), "version": 1}}
        result = await self._members.update_one({"_id": member_id, "version": version},
                                                stage(update, events))
        return result.modified_count == 1

    async def page(self, *, query: dict[str, Any], limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        docs = await page(self._members.find(query, {"outbox": 0}).sort("_id", ASCENDING),
                           limit=limit, offset=offset).to_list()
        return docs, await self._members.count_documents(query)

    async def roster_of_kinds(self, kinds: Sequence[str]) -> list[dict[str, Any]]:
        return await self._members.find({"member_kind": {"$in": list(kinds)}},
                                        {"member_kind": 1, "roster_periods": 1, "unit": 1}).to_list()


class MembershipRepository:
    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._memberships = database[MEMBERSHIPS]

    async def get(self, membership_id: str) -> dict[str, Any] | None:
        return await self._memberships.find_one({"_id": membership_id})

    async def insert(self, document: dict[str, Any], events: Sequence[CloudEvent]) -> bool:
        return await insert_once(self._memberships, document, events)

    async def update(self, membership_id: str, *, version: int, update: dict[str, Any],
                     events: Sequence[CloudEvent]) -> bool:
        update = {**update, "$inc": {**update.get("$inc", {}), "version": 1}}
        result = await self._memberships.update_one({"_id": membership_id, "version": version},
                                                    stage(update, events))
        return result.modified_count == 1

    async def all(self, *, channel_kind: str | None = None, channel_id: str | None = None) -> list[dict[str, Any]]:
        query: dict[str, Any] = {}
        if channel_kind:
            query["channel_kind"] = channel_kind
        if channel_id:
            query["channel_id"] = channel_id
        return await self._memberships.find(query, {"outbox": 0}).to_list()
