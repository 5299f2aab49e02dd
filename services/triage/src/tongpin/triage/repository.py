"""The only module that knows triage's collection names."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from tongpin.shared.envelope import CloudEvent
from tongpin.shared.messaging.outbox import OUTBOX_FIELDS, stage, with_outbox

DECISIONS = "decisions"
RULESETS = "rulesets"
RULESET_HEAD = "ruleset_head"
MODELS = "models"
MODEL_HEAD = "model_head"
STAFF = "staff"
WORKLOAD = "workload"
CLUSTERS = "clusters"
THEMES = "themes"
CASE_PROGRESS = "case_progress"

HEAD_ID = "head"

INDEXES = {
    DECISIONS: [
        IndexModel([("severity_rank", ASCENDING), ("raised_at", ASCENDING)], name="queue_order"),
        IndexModel([("open", ASCENDING), ("crisis", DESCENDING), ("severity_rank", ASCENDING),
                    ("raised_at", ASCENDING)], name="open_crisis_queue_order"),
        IndexModel([("unit", ASCENDING), ("category", ASCENDING), ("raised_at", ASCENDING)], name="unit_category"),
        IndexModel([("overridden", ASCENDING), ("triaged_at", ASCENDING)], name="overridden"),
        IndexModel([("case_id", ASCENDING)], name="case_id"),
    ],
    RULESETS: [IndexModel([("created_at", DESCENDING)], name="created_at")],
    MODELS: [IndexModel([("sha256", ASCENDING)], name="sha256")],
    STAFF: [IndexModel([("roles", ASCENDING)], name="roles")],
    WORKLOAD: [
        IndexModel([("assignee_id", ASCENDING), ("open", ASCENDING)], name="assignee_open"),
        IndexModel([("case_id", ASCENDING)], name="case_id"),
    ],
    THEMES: [IndexModel([("unit", ASCENDING), ("category", ASCENDING), ("last_at", DESCENDING)],
                        name="unit_category_last")],
}
OUTBOX_COLLECTIONS = [DECISIONS]

_HIDDEN = OUTBOX_FIELDS


def _ids(ids: Sequence[str]) -> dict[str, Any]:
    """A filter on these document ids. One id is matched by equality, which FerretDB hands to PostgreSQL;
    an ``$in`` it does not, so every document of the collection would travel to it to be filtered."""
    listed = list(ids)
    return {"_id": listed[0]} if len(set(listed)) == 1 else {"_id": {"$in": listed}}


def _visible(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in _HIDDEN}


class DecisionRepository:
    """Triage decisions (with their outbox), the queue and the override record inside them."""

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
        if concern_ids:
            await self._decisions.update_many(_ids(concern_ids), {"$set": {"open": open_}})

    async def set_case_state(self, *, state: str, at: datetime, case_id: str | None = None,
                             concern_ids: Sequence[str] = (), extra: dict[str, Any] | None = None) -> None:
        """Record where a concern's case stands, unless a later state is already recorded (events reorder)."""
        target: dict[str, Any] = _ids(concern_ids) if concern_ids else {"case_id": case_id}
        fresher = {"$or": [{"case_state_at": None}, {"case_state_at": {"$lte": at}}]}
        await self._decisions.update_many({**target, **fresher},
                                          {"$set": {"case_state": state, "case_state_at": at, **(extra or {})}})

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
        await self._decisions.update_many(
            {**_ids(concern_ids), "theme_id": None}, {"$set": {"theme_id": theme_id}}
        )

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


# The running-version pointers, kept per process and database: every decision asks for them, and only this
# service moves them, through _VersionStore, in its one process (README: one process per service).
# A pointer is cached only if no move began while it was read; a move drops it before and after writing.
_HEADS: dict[tuple[int, str, str], dict[str, Any]] = {}
_HEAD_MOVES: dict[tuple[int, str, str], int] = {}


class _VersionStore:
    """Numbered versions of a judgment part (rule sets, models) and the pointer to the running one."""

    VERSIONS: str
    HEAD: str
    # The field too large to list with every version (the rule-set document, the model's bytes).
    BULKY: str

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._versions = database[self.VERSIONS]
        self._head = database[self.HEAD]

    def _head_key(self) -> tuple[int, str, str]:
        return id(asyncio.get_running_loop()), self._head.database.name, self._head.name

    def _moving(self, key: tuple[int, str, str]) -> None:
        _HEAD_MOVES[key] = _HEAD_MOVES.get(key, 0) + 1
        _HEADS.pop(key, None)

    async def head(self) -> dict[str, Any] | None:
        key = self._head_key()
        cached = _HEADS.get(key)
        if cached is not None:
            return copy.deepcopy(cached)
        moves = _HEAD_MOVES.get(key, 0)
        head = await self._head.find_one({"_id": HEAD_ID})
        if head is not None and _HEAD_MOVES.get(key, 0) == moves:
            _HEADS[key] = copy.deepcopy(head)
        return head

    async def get(self, version: int, *, bulky: bool = True) -> dict[str, Any] | None:
        return await self._versions.find_one({"_id": version}, None if bulky else {self.BULKY: 0})

    async def insert(self, document: dict[str, Any]) -> bool:
        try:
            await self._versions.insert_one(document)
        except DuplicateKeyError:
            return False
        return True

    async def latest_version(self) -> int:
        docs = await self._versions.find({}, {"_id": 1}).sort("_id", DESCENDING).limit(1).to_list()
        return int(docs[0]["_id"]) if docs else 0

    async def page(self, *, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        cursor = self._versions.find({}, {self.BULKY: 0}).sort("_id", DESCENDING).skip(offset).limit(limit)
        return [doc async for doc in cursor], await self._versions.count_documents({})

    async def create_head(self, document: dict[str, Any]) -> bool:
        key = self._head_key()
        self._moving(key)
        try:
            await self._head.insert_one(document)
        except DuplicateKeyError:
            return False
        finally:
            self._moving(key)
        return True

    async def move_head(self, *, expected_seq: int, update: dict[str, Any]) -> dict[str, Any] | None:
        """Move the running-version pointer if nobody moved it meanwhile (None: somebody did)."""
        update = {op: dict(fields) for op, fields in update.items()}
        update.setdefault("$inc", {})["seq"] = 1
        key = self._head_key()
        self._moving(key)
        try:
            return await self._head.find_one_and_update(
                {"_id": HEAD_ID, "seq": expected_seq}, update, return_document=ReturnDocument.AFTER
            )
        finally:
            self._moving(key)

    async def mark(self, version: int, fields: dict[str, Any]) -> None:
        await self._versions.update_one({"_id": version}, {"$set": fields})


class RuleSetRepository(_VersionStore):
    """Stored rule-set versions and the pointer to the running one."""

    VERSIONS, HEAD, BULKY = RULESETS, RULESET_HEAD, "document"


class ModelRepository(_VersionStore):
    """Stored model versions (their bytes, checksum and figures) and the pointer to the running one."""

    VERSIONS, HEAD, BULKY = MODELS, MODEL_HEAD, "blob"

    async def by_checksum(self, sha256: str) -> dict[str, Any] | None:
        return await self._versions.find_one({"sha256": sha256}, {self.BULKY: 0})


# The assignment pools (staff by role), kept per process and database: every decision reads one, and triage's
# projection of the staff directory is written only by StaffRepository.upsert_if_newer (its staff.updated
# consumer), in the service's one process, which drops them before and after it writes.
_POOLS: dict[tuple[int, str], dict[str, list[dict[str, Any]]]] = {}
_STAFF_CHANGES: dict[tuple[int, str], int] = {}


class StaffRepository:
    """Triage's projection of the staff directory, and the open work that makes up each person's load."""

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._staff = database[STAFF]
        self._work = database[WORKLOAD]

    def _key(self) -> tuple[int, str]:
        return id(asyncio.get_running_loop()), self._staff.database.name

    def _changing(self) -> None:
        key = self._key()
        _STAFF_CHANGES[key] = _STAFF_CHANGES.get(key, 0) + 1
        _POOLS.pop(key, None)

    async def upsert_if_newer(self, staff_id: str, fields: dict[str, Any]) -> bool:
        """Record a staff member's state unless a newer one is already stored (events may arrive out of order)."""
        self._changing()
        try:
            result = await self._staff.update_one(
                {"_id": staff_id, "$or": [{"updated_at": {"$lte": fields["updated_at"]}},
                                          {"updated_at": {"$exists": False}}]},
                {"$set": fields}, upsert=True,
            )
        except DuplicateKeyError:
            return False  # a newer state is stored
        finally:
            self._changing()
        return bool(result.upserted_id is not None or result.matched_count)

    async def get(self, staff_id: str) -> dict[str, Any] | None:
        return await self._staff.find_one({"_id": staff_id})

    async def with_role(self, role: str) -> list[dict[str, Any]]:
        """The staff with a role, as the assignment pool of every decision reads them (kept per process)."""
        key = self._key()
        pools = _POOLS.setdefault(key, {})
        if role in pools:
            return copy.deepcopy(pools[role])
        changes = _STAFF_CHANGES.get(key, 0)
        docs = [doc async for doc in self._staff.find({"roles": role})]
        if _STAFF_CHANGES.get(key, 0) == changes:
            _POOLS.setdefault(key, {})[role] = copy.deepcopy(docs)
        return docs

    async def page(self, *, limit: int, offset: int) -> list[dict[str, Any]]:
        return [doc async for doc in self._staff.find({}).sort("_id", ASCENDING).skip(offset).limit(limit)]

    async def open_load(self, staff_ids: Sequence[str]) -> dict[str, int]:
        """Open work items per staff member."""
        if not staff_ids:
            return {}
        cursor = await self._work.aggregate([
            {"$match": {"assignee_id": {"$in": list(staff_ids)}, "open": True}},
            {"$group": {"_id": "$assignee_id", "n": {"$sum": 1}}},
        ])
        return {doc["_id"]: int(doc["n"]) async for doc in cursor}

    async def add_work(self, concern_id: str, *, assignee_id: str | None, at: datetime) -> None:
        """A concern triage assigned becomes one open work item (idempotent)."""
        await self._work.update_one(
            {"_id": concern_id},
            {"$setOnInsert": {"assignee_id": assignee_id, "open": True, "case_id": None, "created_at": at}},
            upsert=True,
        )

    async def reassign_work(self, concern_id: str, *, assignee_id: str | None, open_: bool) -> None:
        await self._work.update_one(
            {"_id": concern_id}, {"$set": {"assignee_id": assignee_id, "open": open_}}, upsert=True
        )

    async def assign_case(self, case_id: str, *, assignee_id: str, at: datetime) -> None:
        """Counselling (re)assigned a case: the work moves to the new assignee."""
        result = await self._work.update_many(
            {"case_id": case_id}, {"$set": {"assignee_id": assignee_id, "assigned_at": at}}
        )
        if result.matched_count:
            return
        # The case is not yet linked to a concern triage knows: it is one item of its own until it is.
        await self._work.update_one(
            {"_id": f"case:{case_id}"},
            {"$set": {"assignee_id": assignee_id, "case_id": case_id, "assigned_at": at},
             "$setOnInsert": {"open": True, "created_at": at}},
            upsert=True,
        )
        await self._settle(case_id)

    async def link_case(self, case_id: str, *, concern_id: str, at: datetime) -> None:
        """Counselling opened a case from a concern: the concern's work item is now that case's."""
        await self._work.update_one(
            {"_id": concern_id},
            {"$set": {"case_id": case_id}, "$setOnInsert": {"open": True, "created_at": at, "assignee_id": None}},
            upsert=True,
        )
        await self._settle(case_id)

    async def _settle(self, case_id: str) -> None:
        """Fold a case's placeholder into its concern once both are known (each side checks after writing)."""
        placeholder = await self._work.find_one({"_id": f"case:{case_id}"})
        if placeholder is None:
            return
        linked = await self._work.update_many(
            {"case_id": case_id, "_id": {"$ne": f"case:{case_id}"}},
            {"$set": {"assignee_id": placeholder.get("assignee_id")}},
        )
        if linked.matched_count:
            await self._work.delete_one({"_id": f"case:{case_id}"})

    async def resolve_case(self, case_id: str, concern_ids: Sequence[str]) -> None:
        """The case is resolved: its work items close, and their concerns are linked to the case."""
        if concern_ids:
            await self._work.update_many(_ids(concern_ids), {"$set": {"case_id": case_id}})
        await self._work.update_many({"case_id": case_id}, {"$set": {"open": False}})
        placeholder = await self._work.find_one({"_id": f"case:{case_id}"})
        if placeholder is not None and concern_ids:
            # Once the case's concerns are known the placeholder would count it twice.
            linked = await self._work.count_documents(_ids(concern_ids))
            if linked:
                await self._work.delete_one({"_id": f"case:{case_id}"})

    async def reopen_case(self, case_id: str) -> list[str]:
        """The case's work items count again; returns the concerns they came from."""
        await self._work.update_many({"case_id": case_id}, {"$set": {"open": True}})
        return [doc["_id"] async for doc in self._work.find({"case_id": case_id}, {"_id": 1})
                if not str(doc["_id"]).startswith("case:")]


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
