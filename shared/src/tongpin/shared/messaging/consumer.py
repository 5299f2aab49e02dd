"""Consuming events: manual ack after the handler's write, retry with back-off, dead-lettering.

Flow for each message: decode the CloudEvent (bad JSON, bad envelope, unknown type or invalid data
are parked at once with the reason), claim it in the inbox (skip it if it was handled before), run the
handler, record it in the inbox, ack. A handler wrapped in ``OwnInbox`` keeps its own proof of having
handled an event in the one document it writes, so the consumer writes no inbox entry for it. A
failing handler is retried through delay queues; after the last tier the message is parked in the
service's dead-letter queue with the error. A consumer that crashes mid-message is covered by the
quorum queue's delivery limit, which dead-letters a message that keeps killing it.

Every delivery ends acked, retried or dead-lettered. When the database cannot be reached (at the inbox
check, in the handler, or at the inbox record after the handler's write), the step waits in place for
the database and is then done again: the retry tiers are for handlers that fail, not for outages, so
an outage dead-letters nothing and re-runs no handler whose write already happened. If the broker
connection goes meanwhile, the broker itself hands the message out again. Anything unforeseen goes
to the retry tiers, or back to the queue when even that fails.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue, AbstractRobustConnection
from aio_pika.exceptions import ChannelInvalidStateError
from pydantic import ValidationError
from pymongo.errors import ConnectionFailure

from tongpin.shared.envelope import CloudEvent, EnvelopeError, parse_envelope
from tongpin.shared.events import EventData, decode_data
from tongpin.shared.logging import bind_request_ids, get_logger
from tongpin.shared.messaging.inbox import Inbox
from tongpin.shared.messaging.topology import Names, declare_topology
from tongpin.shared.metrics import EVENT_LATENCY, EVENTS_CONSUMED
from tongpin.shared.waiting import signalled_within

log = get_logger(__name__)

Handler = Callable[[CloudEvent, Any], Awaitable[None]]
T = TypeVar("T")

ATTEMPT_HEADER = "x-tongpin-attempt"
REASON_HEADER = "x-tongpin-reason"
ERROR_HEADER = "x-tongpin-error"
ROUTING_KEY_HEADER = "x-tongpin-routing-key"
QUEUE_HEADER = "x-tongpin-queue"
# In-place runs of a handler that keeps losing its database connection while a ping gets through,
# before it is treated as a failing handler (retry tiers).
_IN_PLACE_ATTEMPTS = 5


@dataclass(frozen=True)
class OwnInbox:
    """A handler whose one write is itself the inbox entry: it finds a repeat of the event by that write
    (an insert keyed by the event or its subject, which a repeat finds taken) and changes nothing then.
    The consumer keeps no separate inbox entry for it, saving two writes per event."""

    handler: Handler

    async def __call__(self, event: CloudEvent, data: Any) -> None:
        await self.handler(event, data)


class Abandoned(Exception):
    """The message's channel closed while it waited; the broker delivers it again."""


class DatabaseWait:
    """Waits out a database outage: one probe pings with back-off, every waiter resumes when it answers."""

    def __init__(self, ping: Callable[[], Awaitable[Any]], *, service: str, max_delay: float = 5.0) -> None:
        self._ping = ping
        self._service = service
        self._max_delay = max_delay
        self._up = asyncio.Event()
        self._up.set()
        self._probe: asyncio.Task[None] | None = None

    @property
    def up(self) -> bool:
        return self._up.is_set()

    async def until_up(self, *, still_wanted: Callable[[], bool] = lambda: True) -> None:
        """Return once the database answers again; raise Abandoned if the caller stops wanting it."""
        if self._up.is_set():
            self._up.clear()
            log.warning("consumer.database_unreachable", service=self._service)
            self._probe = asyncio.create_task(self._wait_for_database(), name="database-probe")
        while not self._up.is_set():
            if not still_wanted():
                raise Abandoned
            await signalled_within(self._up, 1.0)

    async def _wait_for_database(self) -> None:
        delay, started = 0.2, time.monotonic()
        while True:
            try:
                await self._ping()
            except Exception as exc:
                log.debug("consumer.database_probe_failed", error=repr(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_delay)
                continue
            log.warning("consumer.database_back", service=self._service,
                        outage_seconds=round(time.monotonic() - started, 1))
            self._up.set()
            return


def channel_open(message: AbstractIncomingMessage) -> bool:
    try:
        return not message.channel.is_closed
    except ChannelInvalidStateError:
        return False


class EventConsumer:
    """Consumes one service's queue and dispatches each event type to its handler."""

    def __init__(
        self,
        *,
        connection: AbstractRobustConnection,
        names: Names,
        handlers: Mapping[str, Handler],
        inbox: Inbox,
        retry_delays: list[float],
        delivery_limit: int,
        prefetch: int = 32,
        on_handled: Callable[[], None] | None = None,
    ) -> None:
        self._connection = connection
        self._names = names
        self._handlers = dict(handlers)
        self._inbox = inbox
        self._retry_delays = list(retry_delays)
        self._delivery_limit = delivery_limit
        self._prefetch = prefetch
        self._on_handled = on_handled
        self._database = DatabaseWait(inbox.ping, service=names.service)
        # Strong references: a robust connection keeps channels only weakly.
        self._channel: AbstractChannel | None = None
        self._queue: AbstractQueue | None = None
        self._tag: str | None = None

    async def start(self) -> None:
        self._channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
        await self._channel.set_qos(prefetch_count=self._prefetch)
        topology = await declare_topology(
            self._channel,
            names=self._names,
            routing_keys=tuple(self._handlers),
            retry_delays=self._retry_delays,
            delivery_limit=self._delivery_limit,
        )
        self._dlx = topology.dead_letter_exchange
        self._queue = topology.queue
        if self._queue is not None:
            self._tag = await self._queue.consume(self._on_message)

    async def stop(self) -> None:
        if self._queue is not None and self._tag is not None:
            try:
                await self._queue.cancel(self._tag)
            except Exception as exc:  # the channel may already be gone
                log.debug("consumer.cancel_failed", error=repr(exc))
        if self._channel is not None and not self._channel.is_closed:
            await self._channel.close()

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        try:
            await self._consume(message)
        except Abandoned:
            log.warning("consumer.abandoned", message_id=message.message_id, reason="channel closed while waiting")
        except Exception as exc:
            # Unforeseen: never leave the delivery unsettled.
            log.exception("consumer.unexpected_error", message_id=message.message_id)
            await self._settle_unexpected(message, exc)

    async def _with_database(self, message: AbstractIncomingMessage, step: Callable[[], Awaitable[T]]) -> T:
        """Run a database step, waiting out an outage and running it again as often as needed."""
        while True:
            try:
                return await step()
            except ConnectionFailure as exc:
                log.warning("consumer.database_step_failed", error=repr(exc)[:300], message_id=message.message_id)
                await self._database.until_up(still_wanted=lambda: channel_open(message))

    async def _consume(self, message: AbstractIncomingMessage) -> None:
        service = self._names.service
        routing_key = message.routing_key or ""
        try:
            event = parse_envelope(message.body)
        except EnvelopeError as exc:
            await self._park(message, reason=exc.reason, error=exc.detail, routing_key=routing_key)
            return
        bind_request_ids(correlation_id=event.correlationid, traceparent=event.traceparent, service=service)
        handler = self._handlers.get(event.type)
        if handler is None:
            await self._park(message, reason="unknown_type", error=f"no handler for {event.type!r}",
                             routing_key=routing_key)
            return
        try:
            data: EventData = decode_data(event)
        except KeyError:
            await self._park(message, reason="unknown_type", error=f"{event.type!r} is not in the catalogue",
                             routing_key=routing_key)
            return
        except ValidationError as exc:
            await self._park(message, reason="bad_data", error=_short(exc), routing_key=routing_key)
            return

        own_inbox = isinstance(handler, OwnInbox)
        if not own_inbox and await self._handled_before(message, event):
            EVENTS_CONSUMED.labels(service, event.type, "duplicate").inc()
            await self._ack(message)
            return
        start = time.perf_counter()
        if not await self._run_handler(message, handler, event, data):
            return
        if not own_inbox:
            await self._with_database(message, lambda: self._inbox.record(event_id=event.id, event_type=event.type))
        EVENT_LATENCY.labels(service, event.type).observe(time.perf_counter() - start)
        EVENTS_CONSUMED.labels(service, event.type, "handled").inc()
        await self._ack(message)
        if self._on_handled is not None:
            self._on_handled()

    async def _handled_before(self, message: AbstractIncomingMessage, event: CloudEvent) -> bool:
        first = await self._with_database(message, lambda: self._inbox.claim(event_id=event.id, event_type=event.type))
        if first and not message.redelivered:
            return False
        return await self._with_database(message, lambda: self._inbox.seen(event.id))

    async def _run_handler(self, message: AbstractIncomingMessage, handler: Handler, event: CloudEvent,
                           data: EventData) -> bool:
        """Run the handler; True once it succeeded, False when the message went to the retry tiers."""
        attempts = 0
        while True:
            try:
                await handler(event, data)
                return True
            except ConnectionFailure as exc:
                # The database went away under the handler: wait for it and run the handler again
                # (handlers are idempotent). Only a handler that fails with the database answering
                # pings uses up retry tiers.
                attempts += 1
                if self._database.up and attempts >= _IN_PLACE_ATTEMPTS:
                    EVENTS_CONSUMED.labels(self._names.service, event.type, "failed").inc()
                    await self._retry_or_park(message, event=event, error=exc)
                    return False
                log.warning("consumer.handler_lost_database", event_type=event.type, event_id=event.id,
                            error=repr(exc)[:300])
                await self._database.until_up(still_wanted=lambda: channel_open(message))
            except Exception as exc:
                EVENTS_CONSUMED.labels(self._names.service, event.type, "failed").inc()
                await self._retry_or_park(message, event=event, error=exc)
                return False

    async def _ack(self, message: AbstractIncomingMessage) -> None:
        try:
            await message.ack()
        except ChannelInvalidStateError:
            # The channel went away after the work was done; the redelivery finds the inbox entry.
            log.warning("consumer.ack_lost", message_id=message.message_id)

    async def _settle_unexpected(self, message: AbstractIncomingMessage, error: Exception) -> None:
        if message.processed or not channel_open(message):
            return
        try:
            event = parse_envelope(message.body)
            await self._retry_or_park(message, event=event, error=error)
            return
        except Exception as exc:
            log.error("consumer.retry_failed", error=repr(exc)[:300], message_id=message.message_id)
        await asyncio.sleep(1.0)  # no hot loop through the queue
        if not message.processed and channel_open(message):
            try:
                await message.nack(requeue=True)
            except Exception as exc:
                log.error("consumer.nack_failed", error=repr(exc)[:300], message_id=message.message_id)

    async def _retry_or_park(self, message: AbstractIncomingMessage, *, event: CloudEvent, error: Exception) -> None:
        raw_attempt: Any = (message.headers or {}).get(ATTEMPT_HEADER, 0)
        attempt = int(raw_attempt or 0)
        if attempt < len(self._retry_delays):
            delay = self._retry_delays[attempt]
            log.warning("consumer.retry", event_type=event.type, event_id=event.id, attempt=attempt + 1,
                        delay_seconds=delay, error=repr(error))
            assert self._channel is not None
            retry = _copy(message, headers={ATTEMPT_HEADER: attempt + 1})
            await self._channel.default_exchange.publish(
                retry, routing_key=self._names.retry_queue(delay), mandatory=True
            )
            await self._ack(message)
            return
        await self._park(message, reason="handler_failed", error=repr(error), routing_key=event.type)

    async def _park(self, message: AbstractIncomingMessage, *, reason: str, error: str, routing_key: str) -> None:
        """Move a message to the dead-letter queue with its reason; never blocks the queue."""
        log.error("consumer.parked", reason=reason, error=error[:500], routing_key=routing_key,
                  message_id=message.message_id)
        EVENTS_CONSUMED.labels(self._names.service, routing_key or "unknown", f"parked_{reason}").inc()
        parked = _copy(message, headers={
            REASON_HEADER: reason,
            ERROR_HEADER: error[:2000],
            ROUTING_KEY_HEADER: routing_key,
            QUEUE_HEADER: self._names.queue,
        })
        try:
            await self._dlx.publish(parked, routing_key=self._names.service, mandatory=True)
        except Exception as exc:
            log.error("consumer.park_failed", error=repr(exc))
            if channel_open(message):
                await asyncio.sleep(1.0)
                await message.nack(requeue=True)
            return
        await self._ack(message)


def _copy(message: AbstractIncomingMessage, *, headers: dict[str, Any]) -> aio_pika.Message:
    merged = {k: v for k, v in (message.headers or {}).items() if k != "x-death"}
    merged.update(headers)
    return aio_pika.Message(
        body=message.body,
        content_type=message.content_type,
        content_encoding=message.content_encoding,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=message.message_id,
        type=message.type,
        correlation_id=message.correlation_id,
        timestamp=message.timestamp,
        headers=merged,
    )


def _short(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}" for err in exc.errors()[:5]
    )
