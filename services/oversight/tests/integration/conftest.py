"""Fixtures for oversight's integration tests: the app against the real servers, and a raw publisher."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aio_pika
import pytest

from tongpin.oversight.app import create_app
from tongpin.oversight.settings import OversightSettings
from tongpin.shared import events
from tongpin.shared.envelope import CloudEvent

Publish = Callable[..., Awaitable[CloudEvent]]


@pytest.fixture
def oversight_app(settings_env: Callable[..., dict[str, Any]], clean_run: str) -> Callable[..., Any]:
    def make(**overrides: Any) -> Any:
        return create_app(OversightSettings(**settings_env("oversight", **overrides)))

    return make


@pytest.fixture
async def publish(amqp_url: str, run_id: str) -> AsyncIterator[Publish]:
    """Publish an event (or a payload, wrapped by its own publisher) to the test's exchange, as is."""
    connection = await aio_pika.connect_robust(amqp_url)
    channel = await connection.channel(publisher_confirms=True)
    exchange = await channel.declare_exchange(f"{run_id}.events", aio_pika.ExchangeType.TOPIC, durable=True)

    async def send(item: CloudEvent | events.EventData, *, source: str | None = None) -> CloudEvent:
        event = item if isinstance(item, CloudEvent) else events.make_event(item)
        if source is not None:
            event = event.model_copy(update={"source": source})
        message = aio_pika.Message(event.to_json_bytes(), content_type="application/cloudevents+json",
                                   delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
        await exchange.publish(message, routing_key=event.type)
        return event

    yield send
    await connection.close()
