"""MongoDB access through PyMongo's async client, and index bootstrap."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pymongo import AsyncMongoClient, IndexModel
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
