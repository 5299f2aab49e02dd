"""MongoDB access through PyMongo's async client, and index bootstrap."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Any

from pymongo import AsyncMongoClient, IndexModel, monitoring
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from tongpin.shared.metrics import DATABASE_COMMANDS
from tongpin.shared.settings import ServiceSettings

IndexPlan = Mapping[str, Sequence[IndexModel]]


class CommandCounter(monitoring.CommandListener):
    """Counts the database commands a service sends (``tongpin_database_commands_total``): every find,
    insert, update or delete is one round trip, which on FerretDB is where the time per event goes."""

    def __init__(self, service: str) -> None:
        self._service = service

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        name = event.command_name
        target = event.command.get(name) if name != "getMore" else event.command.get("collection")
        collection = target if isinstance(target, str) else ""
        DATABASE_COMMANDS.labels(self._service, name, collection).inc()

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def make_client(settings: ServiceSettings) -> AsyncMongoClient[Any]:
    """A client for the service's database server; connects lazily, nothing happens at import.

    Server selection and connecting give up quickly when the server is away, so request paths fail
    fast (503) and consumers notice an outage and wait for the database instead.
    """
    timeout_ms = settings.mongodb_select_timeout_ms
    return AsyncMongoClient(
        settings.mongodb_url.get_secret_value(),
        tz_aware=True,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=max(timeout_ms, 2000),
        appname=f"tongpin-{settings.service_name}",
        event_listeners=[CommandCounter(settings.service_name)],
    )


async def ensure_indexes(database: AsyncDatabase[Any], plan: IndexPlan) -> None:
    """Create every index the service's repository declares (idempotent).

    On FerretDB an index serves equality filters only through its GIN twin, which the local PostgreSQL
    adds to every index FerretDB creates (deploy/local/ferretdb-gin.sql; see README, "Running on
    FerretDB"). Where a FerretDB runs without it, the indexes still enforce uniqueness and cost only writes.
    """
    for collection, indexes in plan.items():
        coll = database[collection]
        existing = {index["name"] async for index in await coll.list_indexes()}
        for index in indexes:
            # One at a time, and only missing ones: FerretDB 1.24 drops the connection when a single
            # createIndexes call repeats several indexes that already exist.
            if index.document["name"] not in existing:
                await coll.create_indexes([index])


# How many single-id finds `find_by_ids` has in flight at once on FerretDB.
IDS_AT_ONCE = 16


def _ids_one_by_one(collection: AsyncCollection[Any]) -> bool:
    # `is True`: on a plain AsyncDatabase the attribute lookup names a collection, not a flag.
    return getattr(collection.database, "ids_one_by_one", False) is True


async def find_by_ids(collection: AsyncCollection[Any], ids: Iterable[Any],
                      projection: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The documents with these ids, in the order of ``ids`` (repeats once; missing ones left out).

    One ``$in`` query, except on a database marked ``ids_one_by_one`` (a SerialisedDatabase on FerretDB,
    see ServiceRuntime.start): FerretDB 1.24 hands PostgreSQL an ``_id`` equality but not ``$in``, which it
    answers by reading and decoding the whole collection; so there, one find per id, a few at a time.
    """
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return []
    if not _ids_one_by_one(collection):
        found = {doc["_id"]: doc async for doc in collection.find({"_id": {"$in": wanted}}, projection)}
    else:
        gate = asyncio.Semaphore(IDS_AT_ONCE)

        async def one(doc_id: Any) -> dict[str, Any] | None:
            async with gate:
                return await collection.find_one({"_id": doc_id}, projection)

        found = {doc["_id"]: doc for doc in await asyncio.gather(*(one(i) for i in wanted)) if doc is not None}
    return [found[doc_id] for doc_id in wanted if doc_id in found]


async def update_by_ids(collection: AsyncCollection[Any], ids: Iterable[Any], update: Mapping[str, Any],
                        also: Mapping[str, Any] | None = None) -> int:
    """Apply ``update`` to each document with one of these ids that also matches ``also``; how many matched.

    One ``update_many`` with ``$in``, except on a database marked ``ids_one_by_one`` (see find_by_ids): there
    one ``update_one`` per id, a few at a time, each found through the ``_id`` index instead of a read of
    the whole collection. Either way each document is updated on its own, as ``update_many`` does.
    """
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return 0
    extra = dict(also or {})
    if len(wanted) == 1 or not _ids_one_by_one(collection):
        target: Any = wanted[0] if len(wanted) == 1 else {"$in": wanted}
        return int((await collection.update_many({**extra, "_id": target}, update)).matched_count)
    gate = asyncio.Semaphore(IDS_AT_ONCE)

    async def one(doc_id: Any) -> int:
        async with gate:
            return int((await collection.update_one({**extra, "_id": doc_id}, update)).matched_count)

    return sum(await asyncio.gather(*(one(i) for i in wanted)))


async def is_ferretdb(database: AsyncDatabase[Any]) -> bool:
    """Whether the server is FerretDB (its buildInfo names its own version beside the MongoDB one)."""
    info = await database.command("buildInfo")
    return "ferretdbVersion" in info


async def ping(database: AsyncDatabase[Any]) -> None:
    await database.command("ping")


# --- one writer at a time per document -------------------------------------------------------
#
# FerretDB 1.24 applies an update as read-modify-write of the whole document without a lock: two
# concurrent updates of one document both report success and one of them is lost (measured: 95 of
# 100 pairs). Every update-like operation a service makes therefore goes through a gate in its
# process: operations that name one document by `_id` wait only for others on that document, those
# that list their documents (`{"_id": {"$in": [...]}}`) for others on those; any other filter waits for
# the whole collection. Reads and plain inserts pass freely; they cannot lose
# a write. A service runs as one process per database (see README); on MongoDB proper the gate is
# merely conservative.


class _Gate:
    """Per-collection gate: exclusive per document id, or exclusive for the whole collection."""

    def __init__(self) -> None:
        self._wide = asyncio.Lock()
        self._active = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._ids: dict[Any, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def document(self, doc_id: Any) -> AsyncIterator[None]:
        async with self._wide:  # waits while a collection-wide operation runs
            self._active += 1
            self._idle.clear()
        lock, users = self._ids.get(doc_id, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._ids[doc_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._ids[doc_id]
            if users <= 1:
                del self._ids[doc_id]
            else:
                self._ids[doc_id] = (lock, users - 1)
            self._active -= 1
            if self._active == 0:
                self._idle.set()

    @contextlib.asynccontextmanager
    async def documents(self, doc_ids: list[Any]) -> AsyncIterator[None]:
        """Exclusive on each of several documents, taken in one order so two such callers never deadlock."""
        async with contextlib.AsyncExitStack() as stack:
            for doc_id in sorted(set(doc_ids), key=repr):
                await stack.enter_async_context(self.document(doc_id))
            yield

    @contextlib.asynccontextmanager
    async def collection(self) -> AsyncIterator[None]:
        async with self._wide:
            await self._idle.wait()
            yield


_GATES: dict[tuple[int, str, str], _Gate] = {}


def _gate_for(collection: AsyncCollection[Any]) -> _Gate:
    key = (id(asyncio.get_running_loop()), collection.database.name, collection.name)
    gate = _GATES.get(key)
    if gate is None:
        gate = _GATES[key] = _Gate()
    return gate


def _single_id(filter_: Any) -> Any:
    """The document id a filter pins down, or None when it may match other documents."""
    if isinstance(filter_, Mapping) and "_id" in filter_:
        value = filter_["_id"]
        if not isinstance(value, Mapping | list | tuple):
            return value
    return None


def _listed_ids(filter_: Any) -> list[Any] | None:
    """The document ids a filter of the form {"_id": {"$in": [...]}, ...} limits itself to, else None."""
    if isinstance(filter_, Mapping) and isinstance(filter_.get("_id"), Mapping):
        listed = filter_["_id"]
        if set(listed) == {"$in"} and isinstance(listed["$in"], list | tuple) and len(listed["$in"]) <= 1000 and \
                all(not isinstance(v, Mapping | list | tuple) for v in listed["$in"]):
            return list(listed["$in"])
    return None


def _guard(collection: AsyncCollection[Any], filter_: Any) -> contextlib.AbstractAsyncContextManager[None]:
    gate = _gate_for(collection)
    doc_id = _single_id(filter_)
    return gate.document(doc_id) if doc_id is not None else gate.collection()


def _guard_many(collection: AsyncCollection[Any], filter_: Any) -> contextlib.AbstractAsyncContextManager[None]:
    gate = _gate_for(collection)
    doc_id = _single_id(filter_)
    if doc_id is not None:
        return gate.document(doc_id)
    listed = _listed_ids(filter_)
    return gate.documents(listed) if listed is not None else gate.collection()


class SerialisedCollection(AsyncCollection[Any]):
    """An AsyncCollection whose updates, replacements and deletes of one document never overlap, and which
    tells its database's write observer (the outbox relay) what it wrote."""

    def _wrote(self, *writes: Any) -> None:
        database = self.database
        if isinstance(database, SerialisedDatabase) and database.write_observer is not None:
            database.write_observer(self.name, writes)

    async def insert_one(self, document: Any, *args: Any, **kwargs: Any) -> Any:
        result = await super().insert_one(document, *args, **kwargs)
        self._wrote(document)
        return result

    async def insert_many(self, documents: Any, *args: Any, **kwargs: Any) -> Any:
        documents = list(documents)
        result = await super().insert_many(documents, *args, **kwargs)
        self._wrote(*documents)
        return result

    async def update_one(self, filter: Any, update: Any, *args: Any, **kwargs: Any) -> Any:
        async with _guard(self, filter):
            result = await super().update_one(filter, update, *args, **kwargs)
        self._wrote(update)
        return result

    async def update_many(self, filter: Any, update: Any, *args: Any, **kwargs: Any) -> Any:
        async with _guard_many(self, filter):
            result = await super().update_many(filter, update, *args, **kwargs)
        self._wrote(update)
        return result

    async def replace_one(self, filter: Any, replacement: Any, *args: Any, **kwargs: Any) -> Any:
        async with _guard(self, filter):
            result = await super().replace_one(filter, replacement, *args, **kwargs)
        self._wrote(replacement)
        return result

    async def find_one_and_update(self, filter: Any, update: Any, *args: Any, **kwargs: Any) -> Any:
        async with _guard(self, filter):
            result = await super().find_one_and_update(filter, update, *args, **kwargs)
        self._wrote(update)
        return result

    async def find_one_and_replace(self, filter: Any, replacement: Any, *args: Any, **kwargs: Any) -> Any:
        async with _guard(self, filter):
            result = await super().find_one_and_replace(filter, replacement, *args, **kwargs)
        self._wrote(replacement)
        return result

    async def find_one_and_delete(self, filter: Any, *args: Any, **kwargs: Any) -> Any:
        async with _guard(self, filter):
            return await super().find_one_and_delete(filter, *args, **kwargs)

    async def delete_one(self, filter: Any, *args: Any, **kwargs: Any) -> Any:
        async with _guard(self, filter):
            return await super().delete_one(filter, *args, **kwargs)

    async def delete_many(self, filter: Any, *args: Any, **kwargs: Any) -> Any:
        async with _guard_many(self, filter):
            return await super().delete_many(filter, *args, **kwargs)

    async def bulk_write(self, requests: Any, *args: Any, **kwargs: Any) -> Any:
        async with _gate_for(self).collection():
            result = await super().bulk_write(requests, *args, **kwargs)
        self._wrote(requests)  # not a document or an update: counts as staging
        return result


WriteObserver = Callable[[str, tuple[Any, ...]], None]


class SerialisedDatabase(AsyncDatabase[Any]):
    """An AsyncDatabase handing out SerialisedCollections; ``write_observer``, when set, hears of every
    insert, update and replacement that succeeded (collection name, documents or updates)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.write_observer: WriteObserver | None = None
        # Whether `find_by_ids` asks for one id at a time (set once the server is known to be FerretDB).
        self.ids_one_by_one = False

    def __getitem__(self, name: str) -> AsyncCollection[Any]:
        return SerialisedCollection(self, name)

    def get_collection(self, name: str, *args: Any, **kwargs: Any) -> AsyncCollection[Any]:
        return SerialisedCollection(self, name, False, *args, **kwargs)


def service_database(client: AsyncMongoClient[Any], name: str) -> AsyncDatabase[Any]:
    """The service's own database, with updates of one document serialised."""
    return SerialisedDatabase(client, name)
