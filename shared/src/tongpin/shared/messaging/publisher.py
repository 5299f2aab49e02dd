"""Publishing with publisher confirms, persistent delivery, and unroutable messages as errors."""

from __future__ import annotations

from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractRobustConnection
from opentelemetry.trace import Tracer

from tongpin.shared import tracing
from tongpin.shared.envelope import CONTENT_TYPE, CloudEvent
from tongpin.shared.metrics import EVENTS_PUBLISHED


def to_message(event: CloudEvent, *, headers: dict[str, Any] | None = None) -> aio_pika.Message:
    """The AMQP message for an event: structured-mode CloudEvent, persistent."""
    return aio_pika.Message(
        body=event.to_json_bytes(),
        content_type=CONTENT_TYPE,
        content_encoding="utf-8",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=event.id,
        type=event.type,
        correlation_id=event.correlationid,
        timestamp=event.time,
        headers=headers or {},
    )


class Publisher:
    """Publishes events to the topic exchange; returns only once the broker has confirmed."""

    def __init__(self, *, channel: AbstractChannel, exchange: AbstractExchange, service: str,
                 tracer: Tracer | None = None) -> None:
        self._channel = channel  # held so the robust connection keeps restoring it
        self._exchange = exchange
        self._service = service
        self._tracer = tracer  # a producer span per event when tracing (tongpin.shared.tracing)

    @classmethod
    async def open(cls, *, connection: AbstractRobustConnection, exchange_name: str, service: str,
                   tracer: Tracer | None = None) -> Publisher:
        """Open a confirming channel on which an unroutable mandatory message raises."""
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        exchange = await channel.get_exchange(exchange_name, ensure=True)
        return cls(channel=channel, exchange=exchange, service=service, tracer=tracer)

    async def publish(self, event: CloudEvent) -> None:
        """Publish one event; raises if the broker nacks it, returns it unroutable, or is unreachable."""
        if self._tracer is None:
            await self._exchange.publish(to_message(event), routing_key=event.type, mandatory=True, timeout=10)
        else:
            with tracing.publishing(self._tracer, event):
                await self._exchange.publish(to_message(event), routing_key=event.type, mandatory=True, timeout=10)
        EVENTS_PUBLISHED.labels(service=self._service, type=event.type).inc()

    async def close(self) -> None:
        await self._channel.close()
