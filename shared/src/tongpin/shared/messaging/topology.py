"""Broker topology, declared from the event catalogue.

One topic exchange carries every event. Each consuming service has one durable quorum queue bound
to the types it consumes; failing messages walk through fixed-delay retry queues (TTL, then
dead-lettered back to the service queue) and finally land in the service's dead-letter queue,
which is also where RabbitMQ puts a message that exceeded the quorum queue's delivery limit.
"""

from __future__ import annotations

from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue

from tongpin.shared.events import CONSUMES

DLX_SUFFIX = ".dlx"


@dataclass(frozen=True)
class Names:
    """Names of one service's broker objects, derived from the exchange and an optional prefix."""

    exchange: str
    service: str
    prefix: str = ""

    @property
    def queue(self) -> str:
        return f"{self.prefix}{self.service}.events"

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.exchange}{DLX_SUFFIX}"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.prefix}{self.service}.dlq"

    def retry_queue(self, delay_seconds: float) -> str:
        return f"{self.prefix}{self.service}.retry.{round(delay_seconds * 1000)}ms"


@dataclass
class Topology:
    exchange: AbstractExchange
    dead_letter_exchange: AbstractExchange
    queue: AbstractQueue | None
    dead_letter_queue: AbstractQueue | None
    retry_queues: list[AbstractQueue]


async def declare_exchanges(channel: AbstractChannel, *, names: Names) -> tuple[AbstractExchange, AbstractExchange]:
    """Declare the event exchange and the dead-letter exchange (idempotent)."""
    exchange = await channel.declare_exchange(names.exchange, aio_pika.ExchangeType.TOPIC, durable=True)
    dlx = await channel.declare_exchange(names.dead_letter_exchange, aio_pika.ExchangeType.DIRECT, durable=True)
    return exchange, dlx


async def declare_topology(
    channel: AbstractChannel,
    *,
    names: Names,
    routing_keys: tuple[str, ...] | None = None,
    retry_delays: list[float],
    delivery_limit: int,
) -> Topology:
    """Declare everything one service needs to publish and consume."""
    exchange, dlx = await declare_exchanges(channel, names=names)
    keys = CONSUMES.get(names.service, ()) if routing_keys is None else routing_keys
    if not keys:
        return Topology(exchange, dlx, None, None, [])

    dlq = await channel.declare_queue(
        names.dead_letter_queue, durable=True, arguments={"x-queue-type": "quorum"}
    )
    await dlq.bind(dlx, routing_key=names.service)

    queue = await channel.declare_queue(
        names.queue,
        durable=True,
        arguments={
            "x-queue-type": "quorum",
            "x-delivery-limit": delivery_limit,
            "x-dead-letter-exchange": names.dead_letter_exchange,
            "x-dead-letter-routing-key": names.service,
        },
    )
    for key in keys:
        await queue.bind(exchange, routing_key=key)

    retry_queues = []
    for delay in retry_delays:
        # Classic queues: per-queue TTL expires messages in order, so one queue per delay tier.
        retry_queues.append(
            await channel.declare_queue(
                names.retry_queue(delay),
                durable=True,
                arguments={
                    "x-message-ttl": round(delay * 1000),
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": names.queue,
                },
            )
        )
    return Topology(exchange, dlx, queue, dlq, retry_queues)


async def delete_topology(channel: AbstractChannel, *, names: Names, retry_delays: list[float]) -> None:
    """Remove a service's queues (tests use throwaway prefixes and clean up after themselves)."""
    for queue_name in (names.queue, names.dead_letter_queue, *(names.retry_queue(d) for d in retry_delays)):
        await channel.queue_delete(queue_name)
