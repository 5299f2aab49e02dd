"""Transactional outbox inside the aggregate's own document.

Without multi-document transactions (FerretDB has none), the only atomic write is a single-document
update, so the events a state change causes are stored in that same document under
``outbox.<event id>``, with a counter ``outbox_pending`` the relay can find by index. The relay
publishes them with confirms and then removes each one; a crash in between republishes on restart,
and consumers' inboxes make the repeat harmless.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterable, Sequence
from typing import Any

from pymongo import IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from tongpin.shared.envelope import CloudEvent
from tongpin.shared.logging import get_logger
from tongpin.shared.messaging.publisher import Publisher
from tongpin.shared.waiting import signalled_within

log = get_logger(__name__)

OUTBOX_INDEX = IndexModel([("outbox_dirty", 1)], name="outbox_dirty")
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

    def notify(self) -> None:
        """Something was staged: publish now rather than at the next poll."""
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
        while True:
            try:
                published = await self.drain()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("outbox.relay_failed", error=str(exc))
                published = 0
                await asyncio.sleep(self._poll)
            if published:
                continue
            await signalled_within(self._wake, self._poll)
            self._wake.clear()

    async def drain(self) -> int:
        """Publish one batch from every collection; returns how many events went out."""
        total = 0
        for name in self._collections:
            coll = self._db[name]
            docs = await coll.find({"outbox_dirty": True}, {"outbox": 1}).limit(self._batch).to_list()
            if not docs:
                continue
            results = await asyncio.gather(*(self._publish_document(coll, d) for d in docs), return_exceptions=True)
            failures = [r for r in results if isinstance(r, BaseException)]
            total += sum(r for r in results if isinstance(r, int))
            if failures:
                # Left in the outbox; the next pass tries again.
                log.warning("outbox.publish_failed", collection=name, documents=len(failures), error=repr(failures[0]))
        return total

    async def _publish_document(self, coll: AsyncCollection[Any], doc: dict[str, Any]) -> int:
        entries = sorted((doc.get("outbox") or {}).items(), key=lambda kv: kv[1]["seq"])
        confirmed: list[str] = []
        async with self._limit:
            try:
                for event_id, entry in entries:
                    await self._publisher.publish(CloudEvent.model_validate(entry["event"]))
                    confirmed.append(event_id)
            finally:
                # Remove what the broker confirmed in one update, clearing the flag in the same write
                # when nothing else was staged meanwhile (the usual case). One update per document,
                # not a bulk_write: FerretDB 1.24 stalls a bulk write that runs concurrently with
                # inserts into the same collection.
                if confirmed:
                    removal = {"$unset": {f"outbox.{eid}": "" for eid in confirmed},
                               "$inc": {"outbox_pending": -len(confirmed)}}
                    # The service database's write gate keeps these from overlapping the service's own.
                    done = await coll.update_one(
                        {"_id": doc["_id"], "outbox_pending": len(entries)},
                        {**removal, "$set": {"outbox_dirty": len(confirmed) < len(entries)}},
                    )
                    if done.matched_count == 0:
                        await coll.update_one({"_id": doc["_id"]}, removal)
            if len(confirmed) < len(entries) or not entries:
                await coll.update_one({"_id": doc["_id"], "outbox_pending": 0}, {"$set": {"outbox_dirty": False}})
        return len(confirmed)
