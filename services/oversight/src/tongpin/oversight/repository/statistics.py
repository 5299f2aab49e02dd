"""Pre-aggregated counters per scope, and the units that have any."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from tongpin.oversight.domain.statistics import participation_sums, scope_fields
from tongpin.oversight.repository.collections import STATISTICS, UNITS


class StatisticsRepository:
    """Pre-aggregated counters, one document per scope (month or day, per unit and all units).

    FerretDB 1.24 does not apply concurrent ``$inc`` updates of one document atomically (30
    concurrent increments were measured to leave 1 to 4): the appender is the single writer, and
    writes each scope once per batch.
    """

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._stats = database[STATISTICS]
        self._units = database[UNITS]
        self._noted: set[str] = set()

    async def apply_batch(self, *, batch_no: int, scope: str, fields: dict[str, int]) -> bool:
        """Add a batch's changes to one scope exactly once: the batch number is set in the same atomic update
        as the ``$inc``, and a scope that already carries this batch's number (or a later one) is left alone.
        """
        update = {"$inc": fields, "$set": {"batch": batch_no}}
        try:
            result = await self._stats.update_one(
                {"_id": scope, "batch": {"$lt": batch_no}}, {**update, "$setOnInsert": scope_fields(scope)},
                upsert=True)
        except DuplicateKeyError:
            # The scope is there with this batch or a later one (done), or was written before batches had
            # numbers (then this is its first numbered batch).
            result = await self._stats.update_one({"_id": scope, "batch": {"$exists": False}}, update)
            return result.modified_count > 0
        return result.modified_count > 0 or result.upserted_id is not None

    async def months(self, *, keys: Sequence[str], unit: str | None) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"kind": "month", "key": {"$in": list(keys)}}
        if unit is not None:
            query["unit"] = unit
        return await self._stats.find(query, {"marks": 0, "batch": 0}).to_list()

    async def participation_until(self, *, last_day: str) -> dict[str, dict[str, dict[str, int]]]:
        """Per unit (and ``*``): members joined and roster per channel kind, summing day deltas up to a date.

        Summed here rather than with ``$group``: FerretDB 1.24 was measured to return 0 for the second of
        two ``$sum`` accumulators over sibling nested fields.
        """
        query = {"kind": "day", "key": {"$lte": last_day}}
        docs = await self._stats.find(query, {"participation": 1, "kind": 1, "key": 1, "unit": 1}).to_list()
        return participation_sums(docs, last_day=last_day)

    async def month_span(self) -> tuple[str | None, str | None]:
        """The first and last months the bureau has any figure in."""
        query = {"kind": "month", "unit": "*"}
        first = await self._stats.find_one(query, {"key": 1}, sort=[("kind", ASCENDING), ("unit", ASCENDING),
                                                                     ("key", ASCENDING)])
        last = await self._stats.find_one(query, {"key": 1}, sort=[("kind", ASCENDING), ("unit", ASCENDING),
                                                                    ("key", DESCENDING)])
        return (first or {}).get("key"), (last or {}).get("key")

    async def note_unit(self, unit: str) -> None:
        if unit in self._noted:
            return
        await self._units.update_one({"_id": unit}, {"$setOnInsert": {"seen_at": datetime.now(UTC)}}, upsert=True)
        self._noted.add(unit)

    async def unit_known(self, unit: str) -> bool:
        return await self._units.find_one({"_id": unit}) is not None

    async def units(self) -> list[str]:
        return [doc["_id"] async for doc in self._units.find({}).sort("_id", ASCENDING)]
