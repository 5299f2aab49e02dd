"""Numbered rule-set and model versions, and the pointer to the running one of each."""

from __future__ import annotations

from typing import Any

from pymongo import DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from tongpin.shared.cache import ProcessCache
from tongpin.triage.repository.collections import HEAD_ID, MODEL_HEAD, MODELS, RULESET_HEAD, RULESETS

# The running-version pointers, kept per process and database: every decision asks for them, and only this
# service moves them, through _VersionStore, in its one process (README: one process per service).
# A pointer is cached only if no move began while it was read; a move drops it before and after writing.
_HEADS: ProcessCache[dict[str, Any] | None] = ProcessCache()


class _VersionStore:
    """Numbered versions of a judgment part (rule sets, models) and the pointer to the running one."""

    VERSIONS: str
    HEAD: str
    # The field too large to list with every version (the rule-set document, the model's bytes).
    BULKY: str

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._versions = database[self.VERSIONS]
        self._head = database[self.HEAD]

    def _moving(self) -> None:
        _HEADS.changing((self._head.database.name, self._head.name))

    async def head(self) -> dict[str, Any] | None:
        return await _HEADS.read((self._head.database.name, self._head.name), HEAD_ID,
                                 lambda: self._head.find_one({"_id": HEAD_ID}))

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
        self._moving()
        try:
            await self._head.insert_one(document)
        except DuplicateKeyError:
            return False
        finally:
            self._moving()
        return True

    async def move_head(self, *, expected_seq: int, update: dict[str, Any]) -> dict[str, Any] | None:
        """Move the running-version pointer if nobody moved it meanwhile (None: somebody did)."""
        update = {op: dict(fields) for op, fields in update.items()}
        update.setdefault("$inc", {})["seq"] = 1
        self._moving()
        try:
            return await self._head.find_one_and_update(
                {"_id": HEAD_ID, "seq": expected_seq}, update, return_document=ReturnDocument.AFTER
            )
        finally:
            self._moving()

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
