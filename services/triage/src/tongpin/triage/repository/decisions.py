"""Triage decisions (with their outbox), the queue, the override record and each case's latest state."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from tongpin.shared.envelope import CloudEvent
from tongpin.shared.messaging.outbox import OUTBOX_FIELDS, insert_once, stage
from tongpin.shared.mongo import update_by_ids
from tongpin.triage.repository.collections import CASE_PROGRESS, DECISIONS

_HIDDEN = OUTBOX_FIELDS


def _visible(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in _HIDDEN}


class DecisionRepository:
    """Triage decisions (with their outbox), the queue and the override record inside them."""

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._decisions = database[DECISIONS]

    async def insert_once(self, document: dict[str, Any], events: list[CloudEvent]) -> bool:
        """Store a decision with its events unless this concern already has one."""
        return await insert_once(self._decisions, document, events)

    async def get(self, concern_id: str) -> dict[str, Any] | None:
        doc = await self._decisions.find_one({"_id": concern_id})
        return _visible(doc) if doc else None

    async def update_versioned(
        self, concern_id: str, *, version: int, update: dict[str, Any], events: Sequence[CloudEvent]
    ) -> bool:
        """Apply an update (with its events) only if the decision is still at this version."""
        update = {op: dict(fields) for op, fields in update.items()}
        update.setdefault("$inc", {})["version"] = 1
        result = await self._decisions.update_one({"_id": concern_id, "version": version}, stage(update, events))
        return result.modified_count == 1

    async def queue(self, *, filters: dict[str, Any], limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        """Decisions matching the filters: crises first whatever their age, then by severity, then oldest."""
        cursor = self._decisions.find(filters, {"outbox": 0}).sort(
            [("crisis", DESCENDING), ("severity_rank", ASCENDING), ("raised_at", ASCENDING), ("_id", ASCENDING)]
        ).skip(offset).limit(limit)
        items = [_visible(doc) async for doc in cursor]
        return items, await self._decisions.count_documents(filters)

    async def set_open(self, concern_ids: Sequence[str], *, open_: bool) -> None:
        await update_by_ids(self._decisions, concern_ids, {"$set": {"open": open_}})

    async def set_case_state(self, *, state: str, at: datetime, case_id: str | None = None,
                             concern_ids: Sequence[str] = (), extra: dict[str, Any] | None = None) -> None:
        """Record where a concern's case stands, unless a later state is already recorded (events reorder)."""
        fresher = {"$or": [{"case_state_at": None}, {"case_state_at": {"$lte": at}}]}
        update = {"$set": {"case_state": state, "case_state_at": at, **(extra or {})}}
        if concern_ids:
            await update_by_ids(self._decisions, concern_ids, update, also=fresher)
        else:
            await self._decisions.update_many({"case_id": case_id, **fresher}, update)

    async def record_progress(self, case_id: str, *, state: str, at: datetime) -> dict[str, Any]:
        """Keep a case's latest state by case id, so a state that arrives before its case.opened is not lost."""
        progress = self._decisions.database[CASE_PROGRESS]
        try:
            latest = await progress.find_one_and_update(
                {"_id": case_id, "$or": [{"at": None}, {"at": {"$lte": at}}]},
                {"$set": {"state": state, "at": at}}, upsert=True, return_document=ReturnDocument.AFTER)
        except DuplicateKeyError:
            # A later state is already there (the upsert found no fresher-or-equal document to update).
            latest = await progress.find_one({"_id": case_id})
        assert latest is not None
        return latest

    async def progress_of(self, case_id: str) -> dict[str, Any] | None:
        return await self._decisions.database[CASE_PROGRESS].find_one({"_id": case_id})

    async def set_oversight_status(self, concern_id: str, *, status: str, at: datetime, close: bool) -> None:
        """Oversight's public status of the item a concern became; a closed item leaves the open queue."""
        fields: dict[str, Any] = {"oversight_status": status, "oversight_status_at": at}
        if close:
            fields["open"] = False
        await self._decisions.update_one(
            {"_id": concern_id, "$or": [{"oversight_status_at": None}, {"oversight_status_at": {"$lte": at}}]},
            {"$set": fields})

    async def set_theme(self, concern_ids: Sequence[str], theme_id: str) -> None:
        """Mark earlier decisions as part of a theme that has now surfaced (no event: the theme is triage's)."""
        await update_by_ids(self._decisions, concern_ids, {"$set": {"theme_id": theme_id}}, also={"theme_id": None})

    async def officers_by_unit_category(self, *, unit: str, category: str, since: datetime) -> list[dict[str, Any]]:
        """Recent non-dismissed decisions of one category in one unit (ids and subject officers only)."""
        cursor = self._decisions.find(
            {"unit": unit, "category": category, "raised_at": {"$gte": since}, "dismissed": False},
            {"_id": 1, "subject_officer_id": 1, "theme_id": 1},
        )
        return [doc async for doc in cursor]

    async def overrides(self, *, since: datetime | None, limit: int, offset: int) -> list[dict[str, Any]]:
        """Every recorded override, one row each, oldest first."""
        match: dict[str, Any] = {"overridden": True}
        pipeline: list[dict[str, Any]] = [
            {"$match": match},
            {"$unwind": "$overrides"},
        ]
        if since is not None:
            pipeline.append({"$match": {"overrides.at": {"$gte": since}}})
        pipeline += [
            {"$sort": {"overrides.at": 1, "_id": 1}},
            {"$skip": offset},
            {"$limit": limit},
            {"$project": {"_id": 1, "overrides": 1, "ruleset_version": 1, "rule_ids": 1, "channel_kind": 1}},
        ]
        cursor = await self._decisions.aggregate(pipeline)
        return [doc async for doc in cursor]
