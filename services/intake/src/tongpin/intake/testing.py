"""Helpers for intake's integration tests: the app against real servers, a webhook target, event publishing."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import aio_pika
import uvicorn

from tongpin.intake.app import create_app
from tongpin.intake.settings import IntakeSettings
from tongpin.shared.events import EventData, make_event
from tongpin.shared.testing.services import free_port, running

# WeCom's published sample app (developer document 90968).
WECOM_TOKEN = "QDG6eK"  # noqa: S105 - WeCom's public sample value
WECOM_AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
WECOM_CORP_ID = "wx5823bf96d3bd56c7"
PEPPER = "test-pepper-0123456789abcdef"
WEBHOOK_SECRET = "whsec-测试-secret"  # noqa: S105 - a test value


@asynccontextmanager
async def intake(settings: IntakeSettings) -> AsyncIterator[Any]:
    app = create_app(settings)
    async with running(app) as client:
        client.app = app  # type: ignore[attr-defined]
        yield client


async def publish(amqp_url: str, exchange: str, data: EventData, *, subject: str = "s-1") -> None:
    """Publish one event onto the test's exchange, as another service would."""
    event = make_event(data, subject=subject, correlationid=f"corr-{uuid.uuid4().hex[:8]}")
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        ex = await channel.get_exchange(exchange)
        await ex.publish(aio_pika.Message(event.to_json_bytes(), delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                         routing_key=event.type)
    finally:
        await connection.close()


def officer(external_id: str, unit: str = "unit-01", **extra: Any) -> dict[str, Any]:
    return {"external_id": external_id, "name": f"民警{external_id}", "member_kind": "officer", "unit": unit, **extra}


async def setup_channel(client: Any, headers: dict[str, str], *, channel_id: str = "officers-01",
                        kind: str = "officers", **extra: Any) -> dict[str, Any]:
    body = {"id": channel_id, "kind": kind, "name": "民警思想\u201c吐槽\u201d群",
            "external_group_id": f"g-{channel_id}", **extra}
    response = await client.post("/channels", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


class WebhookTarget:
    """A real HTTP server on 127.0.0.1 that fails a number of times, then records what it accepts."""

    def __init__(self, *, failures: int = 0, status: int = 503, reply: dict[str, Any] | None = None) -> None:
        self.failures = failures
        self.status = status
        self.reply = reply or {"ok": True}
        self.calls: list[dict[str, Any]] = []
        self.accepted: list[dict[str, Any]] = []
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        call = {"body": body, "headers": headers}
        self.calls.append(call)
        if len(self.calls) <= self.failures:
            status, payload = self.status, {"error": "down"}
        else:
            self.accepted.append(call)
            status, payload = 200, self.reply
        data = json.dumps(payload).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": data})


@asynccontextmanager
async def serve_target(target: WebhookTarget) -> AsyncIterator[WebhookTarget]:
    server = uvicorn.Server(uvicorn.Config(target, host="127.0.0.1", port=target.port, log_level="warning",
                                           lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.02)
    try:
        yield target
    finally:
        server.should_exit = True
        await task
