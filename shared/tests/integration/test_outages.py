"""Readiness and delivery while the database or the broker goes away and comes back."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tongpin.intake.app import create_app as create_intake
from tongpin.intake.settings import IntakeSettings
from tongpin.shared.testing.proxy import TcpProxy
from tongpin.shared.testing.services import eventually, running
from tongpin.triage.app import create_app as create_triage
from tongpin.triage.settings import TriageSettings

pytestmark = pytest.mark.integration

SERVERS_SCRIPT = Path(__file__).resolve().parents[3] / "deploy" / "local" / "servers.sh"




def message(i: int) -> dict:
    return {
        "channel_id": "officers-unit-02", "channel_kind": "officers", "source_message_id": f"m-{uuid.uuid4().hex}",
        "anonymous": True, "text": f"第{i}条：加班太多，想调休", "sent_at": datetime.now(UTC).isoformat(),
    }


async def test_readyz_follows_the_database_and_the_broker(
    settings_env, clean_run, mongodb_url, amqp_url, signing_key
):
    mongo_proxy, amqp_proxy = await TcpProxy.to(mongodb_url), await TcpProxy.to(amqp_url)
    settings = IntakeSettings(**settings_env(
        "intake", MONGODB_URL=mongo_proxy.route(mongodb_url), AMQP_URL=amqp_proxy.route(amqp_url),
        reconnect_seconds=0.5,
    ))
    try:
        async with running(create_intake(settings)) as client:
            ready = await client.get("/readyz")
            assert ready.status_code == 200 and ready.json()["checks"] == {"database": True, "broker": True}
            assert (await client.get("/healthz")).status_code == 200

            await mongo_proxy.cut()
            down = await client.get("/readyz")
            assert down.status_code == 503 and down.json()["checks"]["database"] is False
            assert (await client.get("/healthz")).status_code == 200  # alive, just not ready
            await mongo_proxy.restore()
            await eventually(lambda: _ready(client), timeout=15)

            await amqp_proxy.cut()
            await eventually(lambda: _broker_down(client), timeout=10)
            # A request that needs the broker says so at once.
            replay = await client.post("/ops/dead-letters/any/replay", headers=signing_key.headers("admin"))
            assert replay.status_code == 503 and replay.headers["retry-after"] == "5", replay.text
            assert "broker" in replay.json()["detail"]
            await amqp_proxy.restore()
            await eventually(lambda: _ready(client), timeout=20)
    finally:
        await mongo_proxy.close()
        await amqp_proxy.close()


async def _ready(client) -> bool:
    return (await client.get("/readyz")).status_code == 200


async def _broker_down(client) -> bool:
    response = await client.get("/readyz")
    return response.status_code == 503 and response.json()["checks"]["broker"] is False


def rabbitmqctl(*args: str) -> None:
    subprocess.run([str(SERVERS_SCRIPT), "rabbitmqctl", *args], check=True, capture_output=True, timeout=120)


def local_rabbitmq(amqp_url: str) -> bool:
    status = subprocess.run([str(SERVERS_SCRIPT), "status"], capture_output=True, text=True, check=False)
    port = os.environ.get("TONGPIN_AMQP_PORT", "5672")
    return "rabbitmq: running" in status.stdout and urlsplit(amqp_url).port == int(port)


async def test_nothing_is_lost_when_rabbitmq_stops_and_restarts_mid_stream(
    settings_env, clean_run, mongo_client, amqp_url, signing_key
):
    if not local_rabbitmq(amqp_url):
        pytest.skip("needs the RabbitMQ started by deploy/local/servers.sh (make test starts it)")
    intake = create_intake(IntakeSettings(**settings_env("intake", reconnect_seconds=0.5)))
    triage = create_triage(TriageSettings(**settings_env("triage", reconnect_seconds=0.5)))
    headers = signing_key.headers("system")
    total = 60
    async with running(triage), running(intake) as client:
        opened = await client.post("/channels", headers=signing_key.headers("admin"), json={
            "id": "officers-unit-02", "kind": "officers", "name": "民警思想“吐槽”群", "external_group_id": "g-02"})
        assert opened.status_code == 201, opened.text
        accepted = []
        try:
            for i in range(total):
                if i == 20:
                    rabbitmqctl("stop_app")
                if i == 40:
                    rabbitmqctl("start_app")
                response = await client.post("/messages", json=message(i), headers=headers)
                assert response.status_code == 201, response.text  # accepted while the broker is away
                accepted.append(response.json()["id"])
                await asyncio.sleep(0.02)
        finally:
            rabbitmqctl("start_app")
            rabbitmqctl("await_startup")
        decisions = mongo_client[f"{clean_run}_triage"]["decisions"]
        await eventually(lambda: _count(decisions, total), timeout=60, interval=0.5)
        assert sorted([d["_id"] async for d in decisions.find({}, {"_id": 1})]) == sorted(accepted)
        messages = mongo_client[f"{clean_run}_intake"]["messages"]
        assert await messages.count_documents({"outbox_pending": {"$gt": 0}}) == 0


async def _count(coll, n: int) -> bool:
    return await coll.count_documents({}) >= n


async def test_a_database_outage_answers_503_at_once_and_writes_nothing(
    settings_env, clean_run, mongodb_url, mongo_client, signing_key, event_capture
):
    mongo_proxy = await TcpProxy.to(mongodb_url)
    settings = IntakeSettings(**settings_env("intake", MONGODB_URL=mongo_proxy.route(mongodb_url)))
    body = message(1)
    try:
        async with running(create_intake(settings)) as client:
            opened = await client.post("/channels", headers=signing_key.headers("admin"), json={
                "id": "officers-unit-02", "kind": "officers", "name": "民警思想“吐槽”群", "external_group_id": "g-02"})
            assert opened.status_code == 201, opened.text

            await mongo_proxy.cut()
            started = time.monotonic()
            refused = await client.post("/messages", json=body, headers=signing_key.headers("system"))
            elapsed = time.monotonic() - started
            assert refused.status_code == 503, refused.text
            assert refused.headers["content-type"] == "application/problem+json"
            assert int(refused.headers["retry-after"]) >= 1
            assert refused.json()["status"] == 503 and "database" in refused.json()["detail"]
            assert elapsed < 3.0  # not the driver's default wait
            assert (await client.get("/readyz")).status_code == 503

            await mongo_proxy.restore()
            await eventually(lambda: _ready(client), timeout=15)
            # The retry is the first time the message is stored.
            accepted = await client.post("/messages", json=body, headers=signing_key.headers("system"))
            assert accepted.status_code == 201, accepted.text
            await event_capture.wait_for_type("concern.raised")
        messages = mongo_client[f"{clean_run}_intake"]["messages"]
        assert await messages.count_documents({"source_message_id": body["source_message_id"]}) == 1
        await asyncio.sleep(0.5)
        assert len(event_capture.of_type("concern.raised")) == 1
    finally:
        await mongo_proxy.close()


async def test_a_public_submission_cut_off_between_its_writes_leaves_no_concern(
    settings_env, clean_run, mongodb_url, mongo_client, signing_key, event_capture, monkeypatch
):
    from tongpin.intake import repository

    mongo_proxy = await TcpProxy.to(mongodb_url)
    settings = IntakeSettings(**settings_env("intake", MONGODB_URL=mongo_proxy.route(mongodb_url),
                                             receipt_pepper="p" * 32))
    first_write = asyncio.Event()

    def cut_after(original):
        async def wrapped(self, *args, **kwargs):
            result = await original(self, *args, **kwargs)
            if not first_write.is_set():
                first_write.set()
                await mongo_proxy.cut()  # the database dies after the request's first write
            return result
        return wrapped

    monkeypatch.setattr(repository.MessageRepository, "insert_new", cut_after(repository.MessageRepository.insert_new))
    monkeypatch.setattr(repository.ReceiptRepository, "insert", cut_after(repository.ReceiptRepository.insert))
    submission = {"channel_kind": "supervision", "text": "派出所窗口办事态度很差，请核查。", "anonymous": True}
    try:
        async with running(create_intake(settings)) as client:
            opened = await client.post("/channels", headers=signing_key.headers("admin"), json={
                "id": "supervision-01", "kind": "supervision", "name": "社会监督群", "external_group_id": "g-s1"})
            assert opened.status_code == 201, opened.text
            refused = await client.post("/public/submissions", json=submission)
            assert refused.status_code == 503, refused.text
            await mongo_proxy.restore()
            await eventually(lambda: _ready(client), timeout=15)
            await asyncio.sleep(1.5)  # the relay had its chance to publish anything stored
            messages = mongo_client[f"{clean_run}_intake"]["messages"]
            assert await messages.count_documents({}) == 0
            assert event_capture.of_type("concern.raised") == []

            accepted = await client.post("/public/submissions", json=submission)
            assert accepted.status_code == 201, accepted.text
            await event_capture.wait_for_type("concern.raised")
            thread = await client.post("/public/receipts/thread",
                                       json={"receipt_code": accepted.json()["receipt_code"]})
            assert thread.status_code == 200 and [e["kind"] for e in thread.json()["entries"]] == ["submission"]
        assert await messages.count_documents({}) == 1
    finally:
        await mongo_proxy.close()
