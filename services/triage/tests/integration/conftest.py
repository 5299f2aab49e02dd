"""Triage running against the real servers, and a publisher standing in for the other services."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import aio_pika
import httpx
import pytest
from fastapi import FastAPI

from tongpin.shared.envelope import CloudEvent
from tongpin.shared.events import ConcernRaised, EventData, StaffUpdated, make_event
from tongpin.shared.testing.services import running
from tongpin.triage.app import create_app
from tongpin.triage.settings import TriageSettings


def concern(text: str, *, channel_kind: str = "officers", **extra: Any) -> ConcernRaised:
    """A concern.raised payload with a fresh id."""
    values: dict[str, Any] = {
        "concern_id": f"c-{uuid.uuid4().hex[:12]}", "channel_id": f"{channel_kind}-unit-01",
        "channel_kind": channel_kind, "origin": "api", "text": text, "sent_at": datetime.now(UTC),
    }
    values.update(extra)
    return ConcernRaised(**values)


def staff(staff_id: str, *roles: str, **extra: Any) -> StaffUpdated:
    return StaffUpdated(staff_id=staff_id, roles=list(roles), updated_at=datetime.now(UTC), **extra)  # type: ignore[arg-type]


class Publisher:
    """Publishes events onto one test run's exchange, as the other services would."""

    def __init__(self, amqp_url: str, exchange: str) -> None:
        self._url = amqp_url
        self._exchange_name = exchange
        self._connection: Any = None
        self._exchange: Any = None

    async def __aenter__(self) -> Publisher:
        self._connection = await aio_pika.connect_robust(self._url)
        channel = await self._connection.channel(publisher_confirms=True)
        self._channel = channel
        self._exchange = await channel.get_exchange(self._exchange_name)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._connection.close()

    async def event(self, event: CloudEvent) -> CloudEvent:
        message = aio_pika.Message(event.to_json_bytes(), delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                                   content_type="application/cloudevents+json")
        await self._exchange.publish(message, routing_key=event.type)
        return event

    async def data(self, data: EventData, *, subject: str | None = None) -> CloudEvent:
        return await self.event(make_event(data, subject=subject, correlationid=f"corr-{uuid.uuid4().hex[:8]}"))

    async def concern(self, text: str, **extra: Any) -> ConcernRaised:
        """Publish a concern.raised as intake would; returns its payload."""
        data = concern(text, **extra)
        await self.data(data, subject=data.concern_id)
        return data

    async def staff(self, staff_id: str, *roles: str, **extra: Any) -> StaffUpdated:
        """Publish a staff.updated as counselling would."""
        data = staff(staff_id, *roles, **extra)
        await self.data(data, subject=staff_id)
        return data



@pytest.fixture
def triage_settings(settings_env: Callable[..., dict[str, Any]]) -> Callable[..., TriageSettings]:
    def make(**overrides: Any) -> TriageSettings:
        return TriageSettings(**settings_env("triage", **overrides))

    return make


@pytest.fixture
async def triage(clean_run: str, triage_settings: Callable[..., TriageSettings],
                 event_capture: Any) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """Triage running in-process against the real servers, with an event capture bound first."""
    app = create_app(triage_settings())
    async with running(app) as client:
        yield app, client


@pytest.fixture
def triage_with(clean_run: str, triage_settings: Callable[..., TriageSettings], amqp_url: str, event_capture: Any):
    """Run triage with some settings changed: ``async with triage_with(x=1) as (client, publisher)``."""

    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[tuple[httpx.AsyncClient, Publisher]]:
        app = create_app(triage_settings(**overrides))
        async with running(app) as client, Publisher(amqp_url, f"{clean_run}.events") as publisher:
            yield client, publisher

    return start


@pytest.fixture
async def publish(amqp_url: str, clean_run: str, triage: Any) -> AsyncIterator[Publisher]:
    async with Publisher(amqp_url, f"{clean_run}.events") as publisher:
        yield publisher
