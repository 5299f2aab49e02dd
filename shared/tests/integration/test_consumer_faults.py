"""The consumer when the database goes away mid-message: every delivery ends acked, retried or dead-lettered.

The database is reached through a TCP proxy the test cuts at the worst moments: after the handler's
write and before the inbox record, and before the inbox check. When it comes back, the message is
handled exactly once and nothing is left unacknowledged on the broker.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import aio_pika
import pytest

from tongpin.shared.envelope import CloudEvent
from tongpin.shared.events import ConcernRaised, make_event
from tongpin.shared.runtime import ServiceRuntime, create_service_app
from tongpin.shared.settings import ServiceSettings
from tongpin.shared.testing.proxy import TcpProxy
from tongpin.shared.testing.services import eventually, running

pytestmark = pytest.mark.integration




def concern_event() -> CloudEvent:
    concern_id = f"c-{uuid.uuid4().hex}"
    data = ConcernRaised(concern_id=concern_id, channel_id="officers-unit-01", channel_kind="officers",
                         origin="api", text="数据库断开时收到的消息", sent_at=datetime.now(UTC))
    return make_event(data, subject=concern_id)


async def publish_raw(amqp_url: str, exchange: str, event: CloudEvent) -> None:
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        target = await channel.get_exchange(exchange)
        await target.publish(aio_pika.Message(event.to_json_bytes(), delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                             routing_key=event.type)
    finally:
        await connection.close()


def probe(settings: ServiceSettings, handler: Any) -> tuple[Any, ServiceRuntime]:
    runtime = ServiceRuntime(settings, indexes={}, outbox_collections=[],
                             handlers=lambda rt: {"concern.raised.v1": handler})
    return create_service_app(runtime, title="probe"), runtime


async def queue_counts(amqp_url: str, run_id: str) -> tuple[int, int]:
    """Messages in the probe's queue and dead-letter queue (unacked ones count once their channel closed)."""
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(f"{run_id}.probe.events", passive=True)
        dlq = await channel.declare_queue(f"{run_id}.probe.dlq", passive=True)
        return queue.declaration_result.message_count or 0, dlq.declaration_result.message_count or 0
    finally:
        await connection.close()


async def test_database_cut_between_handler_and_inbox_record_strands_nothing(
    settings_env, clean_run, mongodb_url, amqp_url, mongo_client
):
    proxy: TcpProxy = await TcpProxy.to(mongodb_url)
    effects = mongo_client[f"{clean_run}_probe"]["effects"]
    calls: list[str] = []
    cut_once = asyncio.Event()

    async def handler(event: CloudEvent, data: Any) -> None:
        calls.append(event.id)
        # Not idempotent on purpose: a second run of the handler would show as n == 2.
        await runtime.db["effects"].update_one({"_id": event.id}, {"$inc": {"n": 1}}, upsert=True)
        if not cut_once.is_set():
            cut_once.set()
            await proxy.cut()  # the effect is durable; the inbox record is not written yet

    settings = ServiceSettings(**settings_env("probe", MONGODB_URL=proxy.route(mongodb_url)))
    app, runtime = probe(settings, handler)
    try:
        async with running(app):
            event = concern_event()
            await publish_raw(amqp_url, f"{clean_run}.events", event)
            await eventually(cut_once.is_set, timeout=10)
            await asyncio.sleep(2.0)  # the database stays away for a while
            await proxy.restore()
            inbox = mongo_client[f"{clean_run}_probe"]["inbox"]
            await eventually(lambda: inbox.find_one({"_id": event.id}), timeout=30, interval=0.2)
            await asyncio.sleep(0.5)
        # The app has stopped: anything it had left unacked is back in the queue now.
        assert await queue_counts(amqp_url, clean_run) == (0, 0)
        assert calls == [event.id]
        assert (await effects.find_one({"_id": event.id}))["n"] == 1
    finally:
        await proxy.close()


async def test_database_away_when_the_message_arrives_is_handled_once_it_returns(
    settings_env, clean_run, mongodb_url, amqp_url, mongo_client
):
    proxy: TcpProxy = await TcpProxy.to(mongodb_url)
    calls: list[str] = []

    async def handler(event: CloudEvent, data: Any) -> None:
        calls.append(event.id)
        await runtime.db["effects"].update_one({"_id": event.id}, {"$inc": {"n": 1}}, upsert=True)

    settings = ServiceSettings(**settings_env("probe", MONGODB_URL=proxy.route(mongodb_url)))
    app, runtime = probe(settings, handler)
    try:
        async with running(app):
            await proxy.cut()
            events = [concern_event() for _ in range(3)]
            for event in events:
                await publish_raw(amqp_url, f"{clean_run}.events", event)
            await asyncio.sleep(7.0)  # longer than any server-selection timeout
            await proxy.restore()
            inbox = mongo_client[f"{clean_run}_probe"]["inbox"]
            await eventually(lambda: _count(inbox, 3), timeout=30, interval=0.2)
            await asyncio.sleep(0.5)
        assert await queue_counts(amqp_url, clean_run) == (0, 0)
        assert sorted(calls) == sorted(e.id for e in events)
        effects = mongo_client[f"{clean_run}_probe"]["effects"]
        assert [d["n"] async for d in effects.find()] == [1, 1, 1]
    finally:
        await proxy.close()


async def _count(coll: Any, n: int) -> bool:
    return await coll.count_documents({}) >= n


async def test_a_handler_keeping_its_own_inbox_entry_has_one_effect_and_costs_no_inbox_writes(
    settings_env, clean_run, amqp_url, mongo_client
):
    from pymongo.errors import DuplicateKeyError

    from tongpin.shared.messaging.consumer import OwnInbox

    calls: list[str] = []

    async def handler(event: CloudEvent, data: Any) -> None:
        calls.append(event.id)
        try:  # the effect is keyed by the event's subject: a repeat finds it taken
            await runtime.db["effects"].insert_one({"_id": event.subject, "event_id": event.id})
        except DuplicateKeyError:
            pass

    app, runtime = probe(ServiceSettings(**settings_env("probe")), OwnInbox(handler))
    async with running(app):
        event = concern_event()
        for _ in range(3):
            await publish_raw(amqp_url, f"{clean_run}.events", event)
        await eventually(lambda: len(calls) == 3, timeout=15)
        await asyncio.sleep(0.3)
    db = mongo_client[f"{clean_run}_probe"]
    assert await db["effects"].count_documents({}) == 1
    assert await db["inbox"].count_documents({}) == 0 and await db["inbox_claims"].count_documents({}) == 0
    assert await queue_counts(amqp_url, clean_run) == (0, 0)
