"""Transactional outbox inside the aggregate's own document.

Without multi-document transactions (FerretDB has none), the only atomic write is a single-document
update, so the events a state change causes are stored in that same document under
``outbox.<event id>``, with a counter ``outbox_pending`` the relay can find by index. The relay
publishes them with confirms and then removes what went out, in one update for a whole batch of
documents; a crash in between republishes on restart, and consumers' inboxes make the repeat harmless.

Finding the pending documents is a scan of the collection on FerretDB, so the relay looks only where
events were staged: the service's database handle reports each write that stages events
(``stages_events``), and the relay searches just those collections. Every collection is searched at
start, whenever the relay has been idle for a poll, and at least every ``SWEEP_POLLS`` polls under
load, which finds what a write outside this process, or a publish that failed, left behind.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pymongo import IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from tongpin.shared.envelope import CloudEvent
from tongpin.shared.logging import get_logger
from tongpin.shared.messaging.publisher import Publisher
from tongpin.shared.mongo import find_by_ids, update_by_ids
from tongpin.shared.waiting import signalled_within

log = get_logger(__name__)

OUTBOX_INDEX = IndexModel([("outbox_dirty", 1)], name="outbox_dirty")
# Under steady load (the relay never idle for a whole poll) every collection is still searched this often.
SWEEP_POLLS = 5
# The outbox's bookkeeping fields, which no API answer should show.
OUTBOX_FIELDS = ("outbox", "outbox_pending", "outbox_dirty")
HIDE_OUTBOX = dict.fromkeys(OUTBOX_FIELDS, 0)
_seq = itertools.count()


def _entries(events: Iterable[CloudEvent]) -> dict[str, dict[str, Any]]:
    return {
        event.id: {"seq": time.time_ns() + next(_seq), "event": event.to_document()} for event in events
    }


def with_outbox(document: dict[str, Any], events: Sequence[CloudEvent]) -> dict[str, Any]:
    """A new document carrying the events its creation causes."""
    return {**document, "outbox": _entries(events), "outbox_pending": len(events), "outbox_dirty": bool(events)}


async def insert_once(collection: AsyncCollection[Any], document: dict[str, Any],
                      events: Sequence[CloudEvent]) -> bool:
    """Store a new document with the events its creation causes; False if one with its ``_id`` exists."""
    try:
        await collection.insert_one(with_outbox(document, events))
    except DuplicateKeyError:
        return False
    return True


def stages_events(write: Any) -> bool:
    """Whether a document, replacement or update being written stores outbox events (made by
    ``with_outbox`` or ``stage``); anything but a plain document or update counts as staging."""
    if not isinstance(write, Mapping):
        return True
    if write.get("outbox_dirty") is True:
        return True
    sets = write.get("$set")
    return isinstance(sets, Mapping) and sets.get("outbox_dirty") is True


def stage(update: dict[str, Any], events: Sequence[CloudEvent]) -> dict[str, Any]:
    """An update that also stores the events it causes, to be applied in one atomic write."""
    if not events:
        return update
    merged = {op: dict(fields) for op, fields in update.items()}
    sets = merged.setdefault("$set", {})
    sets.update({f"outbox.{eid}": entry for eid, entry in _entries(events).items()})
    sets["outbox_dirty"] = True
    inc = merged.setdefault("$inc", {})
    inc["outbox_pending"] = inc.get("outbox_pending", 0) + len(events)
    return merged


class PartlyPublished(Exception):
    """Publishing a document's events stopped; the ones before the failure were confirmed."""

    def __init__(self, confirmed: list[str]) -> None:
        super().__init__(f"{len(confirmed)} events confirmed before the failure")
        self.confirmed = confirmed


class OutboxRelay:
    """Publishes what the service's collections hold in their outboxes, in order per document."""

    def __init__(
        self,
        *,
        database: AsyncDatabase[Any],
        collections: Sequence[str],
        publisher: Publisher,
        poll_seconds: float = 1.0,
        batch: int = 200,
        concurrency: int = 32,
    ) -> None:
        self._db = database
        self._collections = list(collections)
        self._publisher = publisher
        self._poll = poll_seconds
        self._batch = batch
        self._limit = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._staged: set[str] = set()  # collections written to with events since they were last searched

    def notify(self) -> None:
        """Something was staged: publish now rather than at the next poll."""
        self._wake.set()

    def staged(self, collection: str) -> None:
        """A write stored events in this collection: search it now (the database handle calls this)."""
        if collection in self._collections:
            self._staged.add(collection)
            self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        everywhere, swept = True, 0.0
        while True:
            if everywhere:
                names, swept = list(self._collections), time.monotonic()
                self._staged.clear()
            else:
                names = [name for name in self._collections if name in self._staged]
                self._staged.difference_update(names)
            try:
                await self._drain(names)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("outbox.relay_failed", error=str(exc))
                await asyncio.sleep(self._poll)
            if self._staged:  # written to meanwhile, or more than one batch was waiting
                everywhere = time.monotonic() - swept >= SWEEP_POLLS * self._poll
                continue
            woke = await signalled_within(self._wake, self._poll)
            self._wake.clear()
            everywhere = not woke or time.monotonic() - swept >= SWEEP_POLLS * self._poll

    async def drain(self) -> int:
        """Publish one batch from every collection; returns how many events went out."""
        return await self._drain(self._collections)

    async def _drain(self, names: Sequence[str]) -> int:
        total = 0
        for name in names:
            coll = self._db[name]
            docs = await coll.find({"outbox_dirty": True}, {"outbox": 1}).limit(self._batch).to_list()
            if not docs:
                continue
            backlog = len(docs) == self._batch
            if backlog:
                self._staged.add(name)  # more may be waiting behind this batch
            results = await asyncio.gather(*(self._publish_document(d) for d in docs), return_exceptions=True)
            sent: list[tuple[dict[str, Any], list[str], int]] = []
            failures = []
            for doc, result in zip(docs, results, strict=True):
                entries = len(doc.get("outbox") or {})
                if isinstance(result, BaseException):
                    failures.append(result.__cause__ or result)
                    confirmed = result.confirmed if isinstance(result, PartlyPublished) else []
                else:
                    confirmed = result
                sent.append((doc, confirmed, entries))
                total += len(confirmed)
            await self._remove_confirmed(coll, sent, backlog=backlog)
            if failures:
                # Left in the outbox; the next pass tries again.
                log.warning("outbox.publish_failed", collection=name, documents=len(failures), error=repr(failures[0]))
        return total

    async def _publish_document(self, doc: dict[str, Any]) -> list[str]:
        """Publish a document's events in order; the ids the broker confirmed (also on the error raised)."""
        entries = sorted((doc.get("outbox") or {}).items(), key=lambda kv: kv[1]["seq"])
        confirmed: list[str] = []
        async with self._limit:
            try:
                for event_id, entry in entries:
                    await self._publisher.publish(CloudEvent.model_validate(entry["event"]))
                    confirmed.append(event_id)
            except Exception as exc:
                raise PartlyPublished(confirmed) from exc
        return confirmed

    async def _remove_confirmed(
        self, coll: AsyncCollection[Any], sent: list[tuple[dict[str, Any], list[str], int]], *, backlog: bool
    ) -> None:
        """Take what the broker confirmed out of the outboxes: one update for all documents whose whole outbox
        went out and that nobody wrote to meanwhile (the usual case), one per document for the rest.

        The write gate keeps these from overlapping the service's own updates of the same documents;
        ``outbox_pending`` still equal to what was read means nothing was staged since.

        With a backlog (more documents pending than one batch) the batch is cleared through
        ``update_by_ids``: FerretDB answers the one update's ``$in`` by reading and decoding every pending
        document, which, batch after batch, is quadratic in the backlog; by id, each is found by the index.
        """
        whole: dict[int, list[Any]] = {}
        singles: list[tuple[dict[str, Any], list[str], int]] = []
        for doc, confirmed, entries in sent:
            if len(confirmed) == entries:
                whole.setdefault(entries, []).append(doc["_id"])
            elif confirmed:
                singles.append((doc, confirmed, entries))
        by_id = {doc["_id"]: (doc, confirmed, entries) for doc, confirmed, entries in sent}
        for entries, ids in whole.items():
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                clear = {"$set": {"outbox": {}, "outbox_pending": 0, "outbox_dirty": False}}
                if backlog:
                    matched = await update_by_ids(coll, chunk, clear, also={"outbox_dirty": True,
                                                                            "outbox_pending": entries})
                else:
                    matched = (await coll.update_many(
                        {"outbox_dirty": True, "_id": {"$in": chunk}, "outbox_pending": entries}, clear,
                    )).matched_count
                if matched < len(chunk):
                    # Written to meanwhile: those keep their new events and lose only what went out.
                    left = await find_by_ids(coll, chunk, {"_id": 1, "outbox_dirty": 1})
                    singles.extend(by_id[d["_id"]] for d in left if d.get("outbox_dirty") and d["_id"] in by_id)
        for doc, confirmed, entries in singles:
            await self._remove_from_one(coll, doc["_id"], confirmed, entries)

    async def _remove_from_one(
        self, coll: AsyncCollection[Any], doc_id: Any, confirmed: list[str], entries: int
    ) -> None:
        """Take one document's confirmed events out of its outbox, each only while it is still there.

        The document may have been cleared already (by the batch update) and been given new events since:
        an update that relied on ``outbox_pending`` alone would then count the new events as the ones that
        went out, and leave them stranded with the document marked clean.
        """
        if not confirmed:
            return
        still_there = {f"outbox.{eid}": {"$exists": True} for eid in confirmed}
        removal: dict[str, Any] = {"$unset": {f"outbox.{eid}": "" for eid in confirmed},
                                   "$inc": {"outbox_pending": -len(confirmed)}}
        done = await coll.update_one(
            {"_id": doc_id, "outbox_pending": entries, **still_there},
            {**removal, "$set": {"outbox_dirty": len(confirmed) < entries}},
        )
        if done.matched_count:
            return
        # Written to meanwhile: each event that went out leaves once, the new ones stay.
        for eid in confirmed:
            await coll.update_one({"_id": doc_id, f"outbox.{eid}": {"$exists": True}},
                                  {"$unset": {f"outbox.{eid}": ""}, "$inc": {"outbox_pending": -1}})
        await coll.update_one({"_id": doc_id, "outbox_pending": 0}, {"$set": {"outbox_dirty": False}})
