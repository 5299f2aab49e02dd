"""MongoDB access through PyMongo's async client, and index bootstrap."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from tongpin.shared.settings import ServiceSettings

IndexPlan = Mapping[str, Sequence[IndexModel]]


def make_client(settings: ServiceSettings, *, timeout_ms: int = 5000) -> AsyncMongoClient[Any]:
    """A client for the service's database server; connects lazily, nothing happens at import."""
    return AsyncMongoClient(
        settings.mongodb_url.get_secret_value(),
        tz_aware=True,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        appname=f"tongpin-{settings.service_name}",
    )


async def ensure_indexes(database: AsyncDatabase[Any], plan: IndexPlan) -> None:
    """Create every index the service's repository declares (idempotent)."""
    for collection, indexes in plan.items():
        coll = database[collection]
        existing = {index["name"] async for index in await coll.list_indexes()}
        for index in indexes:
            # One at a time, and only missing ones: FerretDB 1.24 drops the connection when a single
            # createIndexes call repeats several indexes that already exist.
            if index.document["name"] not in existing:
                await coll.create_indexes([index])


async def ping(database: AsyncDatabase[Any]) -> None:
    await database.command("ping")


# --- one writer at a time per collection -------------------------------------------------------
#
# FerretDB 1.24 applies an update as read-modify-write of the whole document without a lock: two
# concurrent updates of one document both report success and one of them is lost (measured: 95 of
# 100 pairs). Every update-like operation a service makes therefore goes through a per-collection
# lock in its process. Reads and plain inserts are not serialised; they cannot lose a write. A
# service runs as one process per database (see README); on MongoDB proper the lock is merely
# conservative.

_GATES: dict[tuple[int, str, str], asyncio.Lock] = {}


def _gate(collection: AsyncCollection[Any]) -> asyncio.Lock:
    key = (id(asyncio.get_running_loop()), collection.database.name, collection.name)
    lock = _GATES.get(key)
    if lock is None:
        lock = _GATES[key] = asyncio.Lock()
    return lock


class SerialisedCollection(AsyncCollection[Any]):
    """An AsyncCollection whose updates, replacements and deletes never overlap within the process."""

    async def update_one(self, *args: Any, **kwargs: Any) -> Any:
        async with _gate(self):
            return await super().update_one(*args, **kwargs)

    async def update_many(self, *args: Any, **kwargs: Any) -> Any:
        async with _gate(self):
            return await super().update_many(*args, **kwargs)

    async def replace_one(self, *args: Any, **kwargs: Any) -> Any:
        async with _gate(self):
            return await super().replace_one(*args, **kwargs)

    async def find_one_and_update(self, *args: Any, **kwargs: Any) -> Any:
        async with _gate(self):
            return await super().find_one_and_update(*args, **kwargs)

    async def find_one_and_replace(self, *args: Any, **kwargs: Any) -> Any:
        async with _gate(self):
            return await super().find_one_and_replace(*args, **kwargs)

    async def find_one_and_delete(self, *args: Any, **kwargs: Any) -> Any:
        async with _gate(self):
            return await super().find_one_and_delete(*args, **kwargs)

    async def delete_one(self, *args: Any, **kwargs: Any) -> Any:
        async with _gate(self):
            return await super().delete_one(*args, **kwargs)

    async def delete_many(self, *args: Any, **kwargs: Any) -> Any:
        async with _gate(self):
            return await super().delete_many(*args, **kwargs)

    async def bulk_write(self, *args: Any, **kwargs: Any) -> Any:
        async with _gate(self):
            return await super().bulk_write(*args, **kwargs)


class SerialisedDatabase(AsyncDatabase[Any]):
    """An AsyncDatabase handing out SerialisedCollections."""

    def __getitem__(self, name: str) -> AsyncCollection[Any]:
        return SerialisedCollection(self, name)

    def get_collection(self, name: str, *args: Any, **kwargs: Any) -> AsyncCollection[Any]:
        return SerialisedCollection(self, name, False, *args, **kwargs)


def service_database(client: AsyncMongoClient[Any], name: str) -> AsyncDatabase[Any]:
    """The service's own database, with updates serialised per collection."""
    return SerialisedDatabase(client, name)
