"""Oversight never receives text people wrote: checked over the catalogue and against the real broker."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import aio_pika
import pytest

from tongpin.oversight import consumers, repository
from tongpin.oversight.settings import OversightSettings
from tongpin.shared import events
from tongpin.shared.events import CATALOGUE, CONSUMES, TEXT_CARRYING
from tongpin.shared.messaging.topology import declare_topology
from tongpin.shared.runtime import ServiceRuntime

pytestmark = pytest.mark.contract

TEXT_TYPES = {"concern.raised.v1", "reply.requested.v1", "broadcast.requested.v1"}


def _string_is_free_text(schema: dict) -> bool:
    return schema.get("type") == "string" and not (
        {"pattern", "enum", "const"} & schema.keys() or schema.get("format") == "date-time"
    )


def _free_text_paths(schema: dict, defs: dict, path: str = "") -> list[str]:
    if "$ref" in schema:
        return _free_text_paths(defs[schema["$ref"].split("/")[-1]], defs, path)
    found = [path] if _string_is_free_text(schema) else []
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, []):
            found += _free_text_paths(option, defs, path)
    for name, sub in schema.get("properties", {}).items():
        found += _free_text_paths(sub, defs, f"{path}.{name}")
    if "items" in schema:
        found += _free_text_paths(schema["items"], defs, f"{path}[]")
    return found


def test_no_event_oversight_consumes_has_a_free_text_field():
    assert TEXT_CARRYING == TEXT_TYPES
    consumed = set(CONSUMES["oversight"])
    assert consumed == set(CATALOGUE) - TEXT_TYPES  # every other type, its own and staff.updated included
    for key in consumed:
        schema = CATALOGUE[key].model_json_schema()
        assert _free_text_paths(schema, schema.get("$defs", {})) == [], key
        assert not CATALOGUE[key].carries_text, key


@pytest.mark.integration
async def test_oversight_queue_bindings_take_no_text_carrying_type(settings_env, clean_run, amqp_url):
    settings = OversightSettings(**settings_env("oversight"))
    runtime = ServiceRuntime(settings, indexes=repository.INDEXES, outbox_collections=[], handlers=consumers.handlers)
    keys = tuple(consumers.handlers(runtime))  # the routing keys the service's consumer binds
    assert not set(keys) & TEXT_TYPES
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        topology = await declare_topology(channel, names=runtime.names, routing_keys=keys,
                                          retry_delays=settings.retry_delays, delivery_limit=settings.delivery_limit)
        assert topology.queue is not None
        now = datetime.now(UTC)
        published = [
            events.ConcernRaised(concern_id="c-1", channel_id="officers-1", channel_kind="officers", origin="api",
                                 text="不该出现在监督里的话", sent_at=now),
            events.ReplyRequested(reply_id="r-1", case_id="case-1", concern_id="c-1", staff_id="s-1",
                                  text="回复内容", requested_at=now),
            events.BroadcastRequested(broadcast_id="b-1", channel_ids=["officers-1"], title="通知", text="教育任务",
                                      requested_by="s-1", requested_at=now),
            events.StaffUpdated(staff_id="s-1", roles=["admin"], updated_at=now),
        ]
        for payload in published:
            event = events.make_event(payload)
            await topology.exchange.publish(aio_pika.Message(event.to_json_bytes()), routing_key=event.type)
        received = []
        for _ in range(40):
            message = await topology.queue.get(fail=False)
            if message is None:
                if received:
                    break
                await asyncio.sleep(0.1)
                continue
            received.append(message.routing_key)
            await message.ack()
        assert received == ["staff.updated.v1"]
    finally:
        await connection.close()
    await runtime.client.close()
