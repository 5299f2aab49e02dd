"""The in-memory stores a service's handler unit tests run on: its own repository classes over one database."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from tongpin.shared.testing.memory import MemoryDatabase, in_memory_stores

pytestmark = pytest.mark.unit

INDEXES = {"people": [IndexModel([("email", ASCENDING)], unique=True, name="email")]}


class PersonRepository:
    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self.database = database
        self._people = database["people"]

    async def add(self, person_id: str, email: str) -> None:
        await self._people.insert_one({"_id": person_id, "email": email})

    async def count(self) -> int:
        return await self._people.count_documents({})


class NoteRepository:
    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self.database = database


@dataclass
class Stores:
    db: MemoryDatabase
    people: PersonRepository
    notes: NoteRepository
    summary: str = field(init=False)

    def __post_init__(self) -> None:
        self.summary = f"{type(self.people).__name__} and {type(self.notes).__name__}"


async def test_every_repository_is_built_over_the_one_database_with_its_unique_indexes():
    stores = in_memory_stores(Stores, INDEXES)
    assert isinstance(stores.db, MemoryDatabase)
    assert stores.people.database is stores.db and stores.notes.database is stores.db
    assert stores.summary == "PersonRepository and NoteRepository"
    await stores.people.add("p-1", "a@example.org")
    with pytest.raises(DuplicateKeyError):
        await stores.people.add("p-2", "a@example.org")
    assert await stores.people.count() == 1


async def test_each_call_starts_from_an_empty_database():
    first = in_memory_stores(Stores, INDEXES)
    await first.people.add("p-1", "a@example.org")
    second = in_memory_stores(Stores, INDEXES)
    assert second.db is not first.db
    assert await second.people.count() == 0
