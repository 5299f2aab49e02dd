"""Sealed notes, the record of every read, and refused attempts."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from tongpin.counselling.repository.collections import ACCESS_DENIALS, NOTE_READS, SEALED_NOTES


class NoteRepository:
    """Sealed notes (ciphertext only), the record of every read, and refused attempts."""

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._notes = database[SEALED_NOTES]
        self._reads = database[NOTE_READS]
        self._denials = database[ACCESS_DENIALS]

    async def insert(self, document: dict[str, Any]) -> None:
        await self._notes.insert_one(document)

    async def get(self, note_id: str) -> dict[str, Any] | None:
        return await self._notes.find_one({"_id": note_id})

    async def for_case(self, case_id: str) -> list[dict[str, Any]]:
        cursor = self._notes.find({"case_id": case_id}, {"sealed": 0}).sort("created_at", ASCENDING)
        return [doc async for doc in cursor]

    async def record_read(self, document: dict[str, Any]) -> None:
        await self._reads.insert_one(document)

    async def reads_of(self, note_id: str) -> list[dict[str, Any]]:
        return [doc async for doc in self._reads.find({"note_id": note_id}).sort("at", ASCENDING)]

    async def record_denial(self, document: dict[str, Any]) -> None:
        await self._denials.insert_one(document)
