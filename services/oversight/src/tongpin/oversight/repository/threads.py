"""What the appender counts by: the subjects accepted events introduced, and each concern's thread."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from tongpin.oversight.repository.collections import SUBJECTS, THREADS
from tongpin.shared.mongo import find_by_ids


def mark_key(event_id: str) -> str:
    """A field-name-safe key for an event id (ids may contain dots)."""
    return hashlib.sha256(event_id.encode()).hexdigest()[:32]


class SubjectRepository:
    """Subjects (cases, escalations, items, concerns) introduced by accepted events, for ordering checks.

    A subject also names the thread (the concern) it belongs to, so an event about a case finds its thread.
    """

    def __init__(self, database: AsyncDatabase[Any], *, cache_size: int = 200_000) -> None:
        self._subjects = database[SUBJECTS]
        # Subjects never change once introduced, and the appender is their one writer, so it keeps them
        # in memory: all of them after ``load`` (a subject not there was never introduced; no lookup, which
        # would scan the collection on FerretDB), else those it has seen.
        self._cache: dict[str, dict[str, Any]] = {}
        self._complete = False
        self._cache_size = cache_size

    async def load(self) -> None:
        """Read every subject once (the appender starting), unless there are more than the cache holds."""
        self._cache.clear()
        self._complete = False
        if await self._subjects.estimated_document_count() > self._cache_size:
            return
        async for doc in self._subjects.find({}):
            self._cache[str(doc["_id"])] = doc
        self._complete = len(self._cache) <= self._cache_size

    async def lookup(self, keys: Iterable[tuple[str, str]]) -> dict[str, dict[str, Any]]:
        """The given (kind, id) subjects that were introduced, by ``kind:id``: the event and thread of each."""
        ids = {f"{kind}:{ident}" for kind, ident in keys}
        found = {i: self._cache[i] for i in ids if i in self._cache}
        missing = [i for i in ids if i not in found]
        if missing and not self._complete:
            for doc in await find_by_ids(self._subjects, missing):
                found[str(doc["_id"])] = self._remember(doc)
        return found

    def _remember(self, doc: dict[str, Any]) -> dict[str, Any]:
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
            self._complete = False
        self._cache[str(doc["_id"])] = doc
        return doc

    async def introduce_many(self, subjects: list[dict[str, Any]]) -> None:
        """Store subjects (``_id`` "kind:id", ``event_id``, ``thread``); those already there stay as they are."""
        if not subjects:
            return
        try:
            await self._subjects.insert_many(subjects, ordered=False)
        except BulkWriteError as exc:
            if any(err.get("code") != 11000 for err in exc.details.get("writeErrors", [])):
                raise
        for doc in subjects:
            self._remember(dict(doc))


class ThreadRepository:
    """Each concern's thread: its state and what it counts now.

    Written by the appender only, once per batch that moves it: ``write`` stores the thread at the next
    version if it is still at the version the batch read, so repeating a batch's write changes nothing.
    The threads written are kept in memory, as the appender is their one writer.
    """

    def __init__(self, database: AsyncDatabase[Any], *, cache_size: int = 5_000, ids_size: int = 500_000) -> None:
        self._threads = database[THREADS]
        self._cache: dict[str, dict[str, Any]] = {}
        self._cache_size = cache_size
        # Every thread id, after ``load``: a thread not there does not exist yet (no lookup).
        self._ids: set[str] | None = None
        self._ids_size = ids_size

    async def load(self) -> None:
        """Read the ids of every thread once (the appender starting), unless there are too many."""
        self._cache.clear()
        self._ids = None
        if await self._threads.estimated_document_count() <= self._ids_size:
            self._ids = {str(doc["_id"]) async for doc in self._threads.find({}, {"_id": 1})}

    async def get(self, thread_id: str) -> dict[str, Any] | None:
        return await self._threads.find_one({"_id": thread_id})

    async def get_many(self, thread_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        ids = set(thread_ids)
        found = {i: self._cache[i] for i in ids if i in self._cache}
        missing = [i for i in ids if i not in found and (self._ids is None or i in self._ids)]
        if missing:
            for doc in await find_by_ids(self._threads, missing):
                found[str(doc["_id"])] = doc
        return found

    async def write(self, planned: dict[str, Any]) -> None:
        """Store a thread as a batch planned it (``read_version``: the version it was planned from, None if new)."""
        thread_id, read_version = planned["_id"], planned["read_version"]
        version = 1 if read_version is None else int(read_version) + 1
        doc = {"_id": thread_id, "version": version, "state": planned["state"], "counted": planned["counted"]}
        if read_version is None:
            try:
                await self._threads.insert_one(doc)
            except DuplicateKeyError:
                pass  # a repeat of the batch
        else:
            await self._threads.update_one(
                {"_id": thread_id, "version": read_version},
                {"$set": {"state": doc["state"], "counted": doc["counted"], "version": version}})
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
        self._cache[thread_id] = doc
        if self._ids is not None:
            self._ids.add(thread_id)
            if len(self._ids) > self._ids_size:
                self._ids = None
