"""Dead letters: kept in the service's database so ops can list them and replay one.

A keeper consumes the service's dead-letter queue and stores each message with the reason it was
parked (ours, or RabbitMQ's ``x-death`` reason such as ``delivery_limit``); replay publishes the
original body back to the service's queue with a fresh attempt count.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue, AbstractRobustConnection
from pymongo import DESCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import ConnectionFailure, DuplicateKeyError

from tongpin.shared.logging import get_logger
from tongpin.shared.messaging.consumer import (
    ERROR_HEADER,
    QUEUE_HEADER,
    REASON_HEADER,
    ROUTING_KEY_HEADER,
    Abandoned,
    DatabaseWait,
    channel_open,
)
from tongpin.shared.messaging.topology import Names

log = get_logger(__name__)

DEAD_LETTER_COLLECTION = "dead_letters"
DEAD_LETTER_INDEXES = [IndexModel([("parked_at", DESCENDING)], name="parked_at")]


def _plain(value: Any) -> Any:
    """AMQP header values as JSON-friendly values."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def dead_letter_document(message: AbstractIncomingMessage) -> dict[str, Any]:
    headers: dict[str, Any] = dict(message.headers or {})
    deaths: list[Any] = list(headers.get("x-death") or [])
    reason = headers.get(REASON_HEADER)
    error = headers.get(ERROR_HEADER)
    if reason is None and deaths:
        # Dead-lettered by RabbitMQ itself (e.g. the delivery limit of a crash-looping consumer).
        first = deaths[0]
        reason = _plain(first.get("reason")) if isinstance(first, dict) else "dead_lettered"
        error = error or f"dead-lettered by the broker from {_plain(first.get('queue'))}"
    try:
        body_text: str | None = message.body.decode("utf-8")
        body_b64 = None
    except UnicodeDecodeError:
        body_text, body_b64 = None, base64.b64encode(message.body).decode("ascii")
    return {
        "_id": str(uuid.uuid4()),
        "message_id": message.message_id,
        "event_id": _event_id(body_text),
        "reason": _plain(reason) or "unknown",
        "error": _plain(error),
        "routing_key": _plain(headers.get(ROUTING_KEY_HEADER)) or message.routing_key,
        "queue": _plain(headers.get(QUEUE_HEADER)),
        "content_type": message.content_type,
        "body": body_text,
        "body_base64": body_b64,
        "headers": _plain({k: v for k, v in headers.items() if k != "x-death"}),
        "parked_at": datetime.now(UTC),
        "replayed_at": None,
        "replay_count": 0,
    }


def _event_id(body: str | None) -> str | None:
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        return None
    event_id = parsed.get("id") if isinstance(parsed, dict) else None
    return event_id if isinstance(event_id, str) else None


class DeadLetterKeeper:
    """Moves messages from the service's dead-letter queue into its database."""

    def __init__(self, *, connection: AbstractRobustConnection, names: Names, collection: AsyncCollection[Any]) -> None:
        self._connection = connection
        self._names = names
        self._coll = collection
        self._channel: AbstractChannel | None = None
        self._queue: AbstractQueue | None = None
        self._database = DatabaseWait(lambda: collection.database.command("ping"), service=names.service)

    async def start(self) -> None:
        self._channel = await self._connection.channel()
        await self._channel.set_qos(prefetch_count=16)
        self._queue = await self._channel.declare_queue(
            self._names.dead_letter_queue, durable=True, arguments={"x-queue-type": "quorum"}
        )
        await self._queue.consume(self._on_message)

    async def stop(self) -> None:
        if self._channel is not None and not self._channel.is_closed:
            await self._channel.close()

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        doc = dead_letter_document(message)
        while True:
            try:
                await self._coll.insert_one(doc)
            except DuplicateKeyError:
                pass  # kept by an earlier try whose answer was lost
            except ConnectionFailure:
                try:
                    await self._database.until_up(still_wanted=lambda: channel_open(message))
                except Abandoned:
                    return  # the broker delivers it again
                continue
            break
        log.warning("deadletter.kept", id=doc["_id"], reason=doc["reason"], routing_key=doc["routing_key"])
        if channel_open(message):
            await message.ack()


async def list_dead_letters(
    collection: AsyncCollection[Any], *, limit: int = 50, skip: int = 0, include_replayed: bool = False
) -> list[dict[str, Any]]:
    query: dict[str, Any] = {} if include_replayed else {"replayed_at": None}
    return await collection.find(query).sort("parked_at", DESCENDING).skip(skip).limit(limit).to_list()


async def replay_dead_letter(
    collection: AsyncCollection[Any], *, connection: AbstractRobustConnection, names: Names, dead_letter_id: str
) -> dict[str, Any] | None:
    """Publish a dead letter back onto the service queue; None if there is no such dead letter."""
    doc = await collection.find_one({"_id": dead_letter_id})
    if doc is None:
        return None
    body = doc["body"].encode("utf-8") if doc.get("body") is not None else base64.b64decode(doc["body_base64"])
    headers = {k: v for k, v in (doc.get("headers") or {}).items() if not k.startswith("x-tongpin-")}
    channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
    try:
        await channel.default_exchange.publish(
            aio_pika.Message(
                body=body,
                content_type=doc.get("content_type"),
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                message_id=doc.get("message_id"),
                headers=headers,
            ),
            routing_key=names.queue,
            mandatory=True,
        )
    finally:
        await channel.close()
    now = datetime.now(UTC)
    await collection.update_one({"_id": dead_letter_id}, {"$set": {"replayed_at": now}, "$inc": {"replay_count": 1}})
    return await collection.find_one({"_id": dead_letter_id})


def main(argv: list[str] | None = None) -> int:
    """`tongpin-deadletters --service NAME list|replay ID`: ops access to a service's dead letters."""
    from pymongo import AsyncMongoClient

    from tongpin.shared.settings import ServiceSettings

    parser = argparse.ArgumentParser(prog="tongpin-deadletters", description=main.__doc__)
    parser.add_argument("--service", required=True, choices=["intake", "triage", "counselling", "oversight"])
    sub = parser.add_subparsers(dest="command", required=True)
    ls = sub.add_parser("list", help="list dead letters not yet replayed")
    ls.add_argument("--all", action="store_true", help="include replayed ones")
    ls.add_argument("--limit", type=int, default=50)
    rp = sub.add_parser("replay", help="publish one dead letter back to the service queue")
    rp.add_argument("id")
    args = parser.parse_args(argv)

    async def run() -> int:
        settings = ServiceSettings(service_name=args.service)
        client: AsyncMongoClient[Any] = AsyncMongoClient(settings.mongodb_url.get_secret_value(), tz_aware=True)
        coll = client[settings.database_name][DEAD_LETTER_COLLECTION]
        names = Names(exchange=settings.exchange, service=args.service, prefix=settings.queue_prefix)
        try:
            if args.command == "list":
                for kept in await list_dead_letters(coll, limit=args.limit, include_replayed=args.all):
                    print(json.dumps({k: kept[k] for k in ("_id", "reason", "error", "routing_key", "parked_at",
                                                          "replayed_at")}, default=str, ensure_ascii=False))
                return 0
            connection = await aio_pika.connect_robust(settings.amqp_url.get_secret_value())
            try:
                doc = await replay_dead_letter(coll, connection=connection, names=names, dead_letter_id=args.id)
            finally:
                await connection.close()
            if doc is None:
                print(f"no dead letter {args.id}", file=sys.stderr)
                return 1
            print(json.dumps({"replayed": doc["_id"], "replay_count": doc["replay_count"]}))
            return 0
        finally:
            await client.close()

    return asyncio.run(run())
