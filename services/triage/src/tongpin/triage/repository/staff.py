"""Triage's projection of the staff directory (the assignment pools) and each person's open work."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from tongpin.shared.cache import ProcessCache
from tongpin.shared.mongo import find_by_ids, update_by_ids
from tongpin.triage.repository.collections import STAFF, WORKLOAD

# The assignment pools (staff by role), kept per process and database: every decision reads one, and triage's
# projection of the staff directory is written only by StaffRepository.upsert_if_newer (its staff.updated
# consumer), in the service's one process, which drops them before and after it writes.
_POOLS: ProcessCache[list[dict[str, Any]]] = ProcessCache()
# Open work items per assignee, kept the same way: every decision reads the load of its pool, and counting it
# reads every open item (on FerretDB the aggregate decodes each one), a cost that grows with the open work.
# A new item adds one to its assignee's count and an assignment moves its case's open items; any other change
# of assignees or of open items (reassignment, resolution, reopening, a placeholder folded in) drops them.
_LOADS: ProcessCache[dict[str, int]] = ProcessCache()
_ALL = "all"
# Writes that may change which work items a case has or who holds them, counted per database: an assignment
# moves the kept loads by what it read of its case's items only if none of these came between.
_CASE_WRITES: Counter[str] = Counter()


class StaffRepository:
    """Triage's projection of the staff directory, and the open work that makes up each person's load."""

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._staff = database[STAFF]
        self._work = database[WORKLOAD]

    def _changing(self) -> None:
        _POOLS.changing(self._staff.database.name)

    @contextlib.contextmanager
    def _loads_changing(self) -> Iterator[None]:
        """Around a write that may change assignees or open items: the kept loads are dropped."""
        scope = self._work.database.name
        _LOADS.changing(scope)
        _CASE_WRITES[scope] += 1
        try:
            yield
        finally:
            _LOADS.changing(scope)
            _CASE_WRITES[scope] += 1

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
        return await _POOLS.read(self._staff.database.name, role,
                                 lambda: self._staff.find({"roles": role}).to_list())

    async def page(self, *, limit: int, offset: int) -> list[dict[str, Any]]:
        return [doc async for doc in self._staff.find({}).sort("_id", ASCENDING).skip(offset).limit(limit)]

    async def open_load(self, staff_ids: Sequence[str]) -> dict[str, int]:
        """Open work items per staff member (those with none left out)."""
        if not staff_ids:
            return {}
        loads = await _LOADS.read(self._work.database.name, _ALL, self._count_open)
        return {staff_id: loads[staff_id] for staff_id in staff_ids if loads.get(staff_id)}

    async def _count_open(self) -> dict[str, int]:
        cursor = await self._work.aggregate([
            {"$match": {"open": True}},
            {"$group": {"_id": "$assignee_id", "n": {"$sum": 1}}},
        ])
        return {doc["_id"]: int(doc["n"]) async for doc in cursor if doc["_id"] is not None}

    async def add_work(self, concern_id: str, *, assignee_id: str | None, at: datetime) -> None:
        """A concern triage assigned becomes one open work item (idempotent)."""
        result = await self._work.update_one(
            {"_id": concern_id},
            {"$setOnInsert": {"assignee_id": assignee_id, "open": True, "case_id": None, "created_at": at}},
            upsert=True,
        )
        if result.upserted_id is not None and assignee_id is not None:
            staff_id = assignee_id

            def one_more(loads: dict[str, int]) -> None:
                loads[staff_id] = loads.get(staff_id, 0) + 1

            _LOADS.adjust(self._work.database.name, _ALL, one_more)

    async def reassign_work(self, concern_id: str, *, assignee_id: str | None, open_: bool) -> None:
        with self._loads_changing():
            await self._work.update_one(
                {"_id": concern_id}, {"$set": {"assignee_id": assignee_id, "open": open_}}, upsert=True
            )

    async def assign_case(self, case_id: str, *, assignee_id: str, at: datetime) -> None:
        """Counselling (re)assigned a case: the work moves to the new assignee.

        Each case is assigned once at least, so rather than count everyone's load again the kept loads move
        the case's open items from their assignees to the new one, provided no write that changes a case's
        items or their holders came between reading those items and moving them (else they are dropped)."""
        scope = self._work.database.name
        _CASE_WRITES[scope] += 1  # another assignment of the case under way will not trust its reading
        before = _CASE_WRITES[scope]
        moving = [doc.get("assignee_id") async for doc in self._work.find({"case_id": case_id, "open": True},
                                                                             {"assignee_id": 1})]
        result = await self._work.update_many(
            {"case_id": case_id}, {"$set": {"assignee_id": assignee_id, "assigned_at": at}}
        )
        if result.matched_count:
            if _CASE_WRITES[scope] != before:
                _LOADS.changing(scope)
                return

            def moved(loads: dict[str, int]) -> None:
                for previous in moving:
                    if previous is not None and loads.get(previous):
                        loads[previous] -= 1
                    loads[assignee_id] = loads.get(assignee_id, 0) + 1

            _LOADS.adjust(scope, _ALL, moved)
            return
        with self._loads_changing():
            await self._assign_placeholder(case_id, assignee_id=assignee_id, at=at)

    async def _assign_placeholder(self, case_id: str, *, assignee_id: str, at: datetime) -> None:
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
        # No load changes, but the items of a case do: an assignment under way must not trust what it read.
        _CASE_WRITES[self._work.database.name] += 1
        await self._settle(case_id)

    async def _settle(self, case_id: str) -> None:
        """Fold a case's placeholder into its concern once both are known (each side checks after writing)."""
        placeholder = await self._work.find_one({"_id": f"case:{case_id}"})
        if placeholder is None:
            return
        with self._loads_changing():
            linked = await self._work.update_many(
                {"case_id": case_id, "_id": {"$ne": f"case:{case_id}"}},
                {"$set": {"assignee_id": placeholder.get("assignee_id")}},
            )
            if linked.matched_count:
                await self._work.delete_one({"_id": f"case:{case_id}"})

    async def resolve_case(self, case_id: str, concern_ids: Sequence[str]) -> None:
        """The case is resolved: its work items close, and their concerns are linked to the case."""
        with self._loads_changing():
            await self._resolve_case(case_id, concern_ids)

    async def _resolve_case(self, case_id: str, concern_ids: Sequence[str]) -> None:
        await update_by_ids(self._work, concern_ids, {"$set": {"case_id": case_id}})
        await self._work.update_many({"case_id": case_id}, {"$set": {"open": False}})
        placeholder = await self._work.find_one({"_id": f"case:{case_id}"})
        if placeholder is not None and concern_ids:
            # Once the case's concerns are known the placeholder would count it twice.
            linked = len(await find_by_ids(self._work, concern_ids, {"_id": 1}))
            if linked:
                await self._work.delete_one({"_id": f"case:{case_id}"})

    async def reopen_case(self, case_id: str) -> list[str]:
        """The case's work items count again; returns the concerns they came from."""
        with self._loads_changing():
            await self._work.update_many({"case_id": case_id}, {"$set": {"open": True}})
        return [doc["_id"] async for doc in self._work.find({"case_id": case_id}, {"_id": 1})
                if not str(doc["_id"]).startswith("case:")]
