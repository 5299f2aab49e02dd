"""pytest fixtures shared by every tier: real servers, throwaway databases and queues, tokens, event capture."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pymongo import AsyncMongoClient

from tongpin.shared import clock
from tongpin.shared.envelope import CloudEvent
from tongpin.shared.events import CATALOGUE
from tongpin.shared.testing.servers import server_urls


@pytest.fixture(scope="session")
def servers() -> Iterator[tuple[str, str]]:
    with server_urls() as urls:
        yield urls


@pytest.fixture(scope="session")
def mongodb_url(servers: tuple[str, str]) -> str:
    return servers[0]


@pytest.fixture(scope="session")
def amqp_url(servers: tuple[str, str]) -> str:
    return servers[1]


@dataclass
class SigningKey:
    """A throwaway Ed25519 key standing in for the staff directory's token signer."""

    private: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    kid: str = field(default_factory=lambda: f"test-{uuid.uuid4().hex[:8]}")
    issuer: str = "tongpin-counselling"
    audience: str = "tongpin"

    @property
    def jwks_json(self) -> str:
        from jwt.algorithms import OKPAlgorithm

        jwk = json.loads(OKPAlgorithm.to_jwk(self.private.public_key()))
        jwk.update({"kid": self.kid, "alg": "EdDSA", "use": "sig"})
        return json.dumps({"keys": [jwk]})

    @property
    def private_pem(self) -> str:
        return self.private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    def token(self, *roles: str, sub: str | None = None, name: str = "测试用户", ttl: int = 600,
              unit: str | None = None) -> str:
        now = datetime.now(UTC)
        claims: dict[str, object] = {
            "sub": sub or f"staff-{uuid.uuid4().hex[:8]}", "roles": list(roles), "name": name,
            "iss": self.issuer, "aud": self.audience, "iat": now, "exp": now + timedelta(seconds=ttl),
        }
        if unit:
            claims["unit"] = unit
        return jwt.encode(claims, self.private, algorithm="EdDSA", headers={"kid": self.kid})

    def headers(self, *roles: str, sub: str | None = None, unit: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(*roles, sub=sub, unit=unit)}"}


@pytest.fixture(scope="session")
def signing_key() -> SigningKey:
    return SigningKey()


@pytest.fixture
def run_id() -> str:
    """A random prefix so tests share servers without sharing databases, exchanges or queues."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def settings_env(
    mongodb_url: str, amqp_url: str, run_id: str, signing_key: SigningKey
) -> Callable[..., dict[str, Any]]:
    """Keyword arguments for a service's settings pointing at the test servers with throwaway names."""

    def make(service: str, **overrides: Any) -> dict[str, Any]:
        values: dict[str, Any] = {
            "service_name": service,
            "MONGODB_URL": mongodb_url,
            "AMQP_URL": amqp_url,
            "mongodb_database": f"{run_id}_{service}",
            "exchange": f"{run_id}.events",
            "queue_prefix": f"{run_id}.",
            "retry_delays": [0.2, 0.4],
            "delivery_limit": 5,
            "outbox_poll_seconds": 0.2,
            "jwks_json": signing_key.jwks_json,
            "log_json": True,
        }
        values.update(overrides)
        return values

    return make


@pytest.fixture
async def mongo_client(mongodb_url: str) -> AsyncIterator[AsyncMongoClient[Any]]:
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongodb_url, tz_aware=True)
    yield client
    await client.close()


@pytest.fixture
async def drop_databases(mongo_client: AsyncMongoClient[Any], run_id: str) -> AsyncIterator[None]:
    """Drop every database this test created."""
    yield
    for name in await mongo_client.list_database_names():
        if name.startswith(run_id):
            await mongo_client.drop_database(name)


@pytest.fixture
async def clean_run(amqp_url: str, run_id: str, drop_databases: None) -> AsyncIterator[str]:
    """The test's run id; its queues, exchanges and databases are removed afterwards."""
    yield run_id
    from tongpin.shared.testing.services import delete_test_topology

    await delete_test_topology(amqp_url, run_id=run_id, retry_delays=[0.2, 0.4], extra=("probe",))


class EventCapture:
    """A throwaway queue bound to the test's exchange that records every event published on it."""

    def __init__(self) -> None:
        self.events: list[CloudEvent] = []
        self.raw: list[aio_pika.abc.AbstractIncomingMessage] = []
        self._changed = asyncio.Condition()

    async def _on_message(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        async with message.process():
            self.raw.append(message)
            try:
                self.events.append(CloudEvent.model_validate_json(message.body))
            except ValueError:
                pass
            async with self._changed:
                self._changed.notify_all()

    def of_type(self, event_type: str) -> list[CloudEvent]:
        key = event_type if event_type in CATALOGUE else f"{event_type}.v1"
        return [e for e in self.events if e.type == key]

    async def wait_for(
        self, predicate: Callable[[list[CloudEvent]], bool], *, timeout: float = 10.0
    ) -> list[CloudEvent]:
        async def until() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: predicate(self.events))

        await asyncio.wait_for(until(), timeout)
        return self.events

    async def wait_for_type(self, event_type: str, *, count: int = 1, timeout: float = 10.0) -> list[CloudEvent]:
        await self.wait_for(lambda _: len(self.of_type(event_type)) >= count, timeout=timeout)
        return self.of_type(event_type)


@pytest.fixture
async def event_capture(amqp_url: str, run_id: str) -> AsyncIterator[EventCapture]:
    """Records every event on the test's exchange (declares the exchange if needed)."""
    connection = await aio_pika.connect_robust(amqp_url)
    channel = await connection.channel()
    exchange = await channel.declare_exchange(f"{run_id}.events", aio_pika.ExchangeType.TOPIC, durable=True)
    queue = await channel.declare_queue(f"{run_id}.capture", exclusive=True, auto_delete=True)
    await queue.bind(exchange, routing_key="#")
    capture = EventCapture()
    await queue.consume(capture._on_message)
    capture.channel = channel  # type: ignore[attr-defined]
    yield capture
    await connection.close()


@pytest.fixture
def business_clock() -> Iterator[clock.SimulatedClock]:
    """A business clock standing still at 2026-03-09 09:30 UTC, bound for the test (handler unit tests)."""
    simulated = clock.SimulatedClock(datetime(2026, 3, 9, 9, 30, tzinfo=UTC))
    with clock.using(simulated):
        yield simulated
