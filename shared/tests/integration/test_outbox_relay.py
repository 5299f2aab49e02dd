"""The outbox relay publishes every staged event once and clears outboxes in batches, even when a document
is written to while its events are on their way."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import aio_pika
import pytest
from pymongo import AsyncMongoClient

from tongpin.shared.envelope import CloudEvent
from tongpin.shared.events import ConcernRaised, make_event
from tongpin.shared.messaging.outbox import OUTBOX_INDEX, OutboxRelay, stage, with_outbox
from tongpin.shared.messaging.publisher import Publisher
from tongpin.shared.mongo import SerialisedCollection, SerialisedDatabase, service_database
from tongpin.shared.testing.commands import SentCommands

pytestmark = pytest.mark.integration


def event(subject: str) -> CloudEvent:
    data = ConcernRaised(concern_id=subject, channel_id="officers-01", channel_kind="officers", origin="api",
                         text="发件箱里的事件", sent_at=datetime.now(UTC))
    return make_event(data, subject=subject)


class StagingPublisher(Publisher):
    """Publishes for real; while the first event of one document is on its way, stages another into it."""

    def __init__(self, inner: Publisher, *, coll, doc_id: str) -> None:
        self.inner, self.coll, self.doc_id = inner, coll, doc_id
        self.late: CloudEvent | None = None

    async def publish(self, ev: CloudEvent) -> None:
        if ev.subject == self.doc_id and self.late is None:
            self.late = event(self.doc_id)
            await self.coll.update_one({"_id": self.doc_id}, stage({"$set": {"touched": True}}, [self.late]))
        await self.inner.publish(ev)


async def relay_all(db, coll, amqp_url: str, run_id: str, *, late_in: str, batch: int) -> tuple[StagingPublisher, int]:
    """Drain the relay until nothing is left (a late event staged into ``late_in`` on the way); how many went out."""
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        inner = await Publisher.open(connection=connection, exchange_name=f"{run_id}.events", service="test")
        publisher = StagingPublisher(inner, coll=coll, doc_id=late_in)
        relay = OutboxRelay(database=db, collections=["messages"], publisher=publisher, batch=batch)
        published = 0
        for _ in range(10):
            sent = await relay.drain()
            published += sent
            if not sent:
                break
    finally:
        await connection.close()
    return publisher, published


async def assert_each_once_and_cleared(event_capture, coll, staged: list[CloudEvent], publisher: StagingPublisher,
                                       published: int) -> None:
    """Every staged event, the late one included, reached the broker exactly once; every outbox is empty."""
    assert publisher.late is not None
    expected = {e.id for e in staged} | {publisher.late.id}
    await event_capture.wait_for(lambda got: len(got) >= len(expected), timeout=10)
    await asyncio.sleep(0.3)
    assert sorted(e.id for e in event_capture.events) == sorted(expected)  # each exactly once
    assert published == len(expected)
    docs = await coll.find({}).to_list()
    assert all(d["outbox"] == {} and d["outbox_pending"] == 0 and d["outbox_dirty"] is False for d in docs)


async def test_relay_publishes_each_event_once_and_clears_outboxes_in_batches(
    mongo_client, amqp_url, clean_run, event_capture
):
    db = service_database(mongo_client, f"{clean_run}_relay")
    coll = db["messages"]
    await coll.create_indexes([OUTBOX_INDEX])
    staged: list[CloudEvent] = []
    for i in range(40):
        events = [event(f"d-{i}") for _ in range(1 + i % 2)]
        staged += events
        await coll.insert_one(with_outbox({"_id": f"d-{i}"}, events))
    publisher, published = await relay_all(db, coll, amqp_url, clean_run, late_in="d-7", batch=25)
    await assert_each_once_and_cleared(event_capture, coll, staged, publisher, published)
    assert (await coll.find_one({"_id": "d-7"}))["touched"] is True


async def test_a_backlog_is_cleared_by_id_where_in_reads_every_pending_document(
    mongodb_url, amqp_url, clean_run, event_capture
):
    # On FerretDB (ids_one_by_one) an `$in` update reads and decodes every pending document, once per batch:
    # with more pending than a batch the relay clears by id, and keeps one `$in` update for the last batch.
    listener = SentCommands()
    client = AsyncMongoClient(mongodb_url, tz_aware=True, event_listeners=[listener])
    db = service_database(client, f"{clean_run}_backlog")
    db.ids_one_by_one = True
    coll = db["messages"]
    await coll.create_indexes([OUTBOX_INDEX])
    staged = [event(f"b-{i:02d}") for i in range(35)]
    for ev in staged:
        await coll.insert_one(with_outbox({"_id": ev.subject}, [ev]))
    try:
        # One document of the first batch gets a new event while its first one is on its way.
        publisher, published = await relay_all(db, coll, amqp_url, clean_run, late_in="b-03", batch=10)
        await assert_each_once_and_cleared(event_capture, coll, staged, publisher, published)
        assert await coll.count_documents({}) == 35
        clearing = [f for f in listener.update_filters() if "outbox_dirty" in f]
        by_list = [f for f in clearing if isinstance(f.get("_id"), dict)]
        # Only the last, short batch (the five left and b-03 again, for its late event) goes by `$in`.
        assert len(by_list) == 1 and set(by_list[0]["_id"]["$in"]) == {f"b-{i}" for i in range(30, 35)} | {"b-03"}
        assert len([f for f in clearing if isinstance(f.get("_id"), str)]) >= 30
    finally:
        await client.close()


class WritesAfterClear(SerialisedDatabase):
    """A service database whose next write (``after_clear``) lands right after the relay's batch clear."""

    after_clear = None

    def __getitem__(self, name: str):
        return ClearWatched(self, name)


class ClearWatched(SerialisedCollection):
    async def update_many(self, filter, update, *args, **kwargs):
        result = await super().update_many(filter, update, *args, **kwargs)
        write, self.database.after_clear = self.database.after_clear, None
        if write is not None:
            await write()
        return result


async def test_an_event_staged_after_the_batch_clear_still_goes_out(mongo_client, amqp_url, clean_run, event_capture):
    # One document of the batch (r-1) gets an event while its first is on its way, so the batch clear misses it
    # and the relay looks again at the documents it could not clear; r-3 was cleared and got a new event just
    # after. That event is still to be published: the second look must not take it for the one that went out.
    db = WritesAfterClear(mongo_client, f"{clean_run}_after_clear")
    coll = db["messages"]
    await coll.create_indexes([OUTBOX_INDEX])
    staged = [event(f"r-{i}") for i in range(5)]
    for ev in staged:
        await coll.insert_one(with_outbox({"_id": ev.subject}, [ev]))
    after = event("r-3")

    async def stage_after() -> None:
        await coll.update_one({"_id": "r-3"}, stage({"$set": {"touched": True}}, [after]))

    db.after_clear = stage_after
    publisher, published = await relay_all(db, coll, amqp_url, clean_run, late_in="r-1", batch=25)
    assert db.after_clear is None  # the write landed after the clear
    await assert_each_once_and_cleared(event_capture, coll, [*staged, after], publisher, published)


def finds(service: str, collection: str) -> float:
    from tongpin.shared.metrics import DATABASE_COMMANDS

    return DATABASE_COMMANDS.labels(service, "find", collection)._value.get()


async def test_relay_searches_only_where_events_were_staged(settings_env, clean_run, event_capture):
    # The relay polls rarely here (30 s), so an event that goes out at once was found because the write that
    # staged it woke the relay; and the collection nobody staged events in is not searched for it.
    from tongpin.shared.runtime import ServiceRuntime
    from tongpin.shared.settings import ServiceSettings

    service = f"probe-{clean_run}"
    settings = ServiceSettings(**settings_env("probe", service_name=service, outbox_poll_seconds=30))
    runtime = ServiceRuntime(settings, indexes={}, outbox_collections=["staged", "quiet"])
    await runtime.start()
    try:
        for _ in range(50):  # the sweep at start searches both
            if finds(service, "quiet") >= 1 and finds(service, "staged") >= 1:
                break
            await asyncio.sleep(0.1)
        quiet_before = finds(service, "quiet")
        await runtime.db["quiet"].insert_one({"_id": "plain", "note": "写入但没有事件"})
        first = event("s-1")
        await runtime.db["staged"].insert_one(with_outbox({"_id": "s-1"}, [first]))
        await event_capture.wait_for(lambda evs: any(e.id == first.id for e in evs), timeout=5)
        second = event("s-1")
        await runtime.db["staged"].update_one({"_id": "s-1"}, stage({"$set": {"n": 2}}, [second]))
        await event_capture.wait_for(lambda evs: any(e.id == second.id for e in evs), timeout=5)
        for _ in range(50):  # both outboxes cleared
            doc = await runtime.db["staged"].find_one({"_id": "s-1"})
            if doc and doc["outbox_dirty"] is False:
                break
            await asyncio.sleep(0.1)
        assert doc is not None and doc["outbox_dirty"] is False and doc["outbox"] == {}
        assert finds(service, "quiet") == quiet_before
        assert [e.id for e in event_capture.events if e.subject == "s-1"] == [first.id, second.id]
    finally:
        await runtime.stop()
