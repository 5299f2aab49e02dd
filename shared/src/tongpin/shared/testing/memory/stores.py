"""A service's repositories built on a fresh in-memory database, and the events they staged in outboxes."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast, get_type_hints

from pymongo.asynchronous.database import AsyncDatabase

from tongpin.shared.envelope import CloudEvent
from tongpin.shared.testing.memory.database import MemoryDatabase

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


Stores = TypeVar("Stores", bound="DataclassInstance")


def in_memory_stores(stores: type[Stores], indexes: Mapping[str, Sequence[Any]]) -> Stores:
    """A service's repositories over one fresh in-memory database with the service's ``INDEXES``.

    ``stores`` is a dataclass whose ``db`` field receives the database and whose every other field (of those
    set at construction) is annotated with a repository class, built on the database as on a server.
    """
    memory = MemoryDatabase(indexes)
    database = cast("AsyncDatabase[Any]", memory)
    kinds = get_type_hints(stores)
    return stores(**{field.name: memory if field.name == "db" else kinds[field.name](database)
                     for field in dataclasses.fields(stores) if field.init})


def staged_events(database: MemoryDatabase, *, event_type: str | None = None,
                  collection: str | None = None) -> list[CloudEvent]:
    """The events the repositories staged in outboxes, in the order they were staged (of one type if given,
    e.g. ``concern.raised``; from one collection's documents if given)."""
    entries = [
        entry
        for name in ([collection] if collection else database.collection_names())
        for doc in database[name].documents.values()
        for entry in (doc.get("outbox") or {}).values()
    ]
    entries.sort(key=lambda entry: entry["seq"])
    found = [CloudEvent.model_validate(entry["event"]) for entry in entries]
    return [e for e in found if event_type is None or e.type.rsplit(".v", 1)[0] == event_type]
