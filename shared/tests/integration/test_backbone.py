"""The event backbone's guarantees, against the real broker and database."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

import aio_pika
import httpx
import pytest

from tongpin.counselling.app import create_app as create_counselling
from tongpin.counselling.settings import CounsellingSettings
from tongpin.intake.app import create_app as create_intake
from tongpin.intake.settings import IntakeSettings
from tongpin.oversight.app import create_app as create_oversight
from tongpin.oversight.settings import OversightSettings
from tongpin.shared.envelope import CloudEvent
from tongpin.shared.events import ConcernRaised, make_event
from tongpin.shared.runtime import ServiceRuntime, create_service_app
from tongpin.shared.settings import ServiceSettings
from tongpin.shared.testing.services import ServiceProcess, eventually, running, settings_to_env
from tongpin.triage.app import create_app as create_triage
from tongpin.triage.settings import TriageSettings

pytestmark = pytest.mark.integration


def message_body(text: str = "宿舍楼热水器坏了一周，晚上下班洗不了澡😣", **extra: Any) -> dict[str, Any]:
    return {
        "channel_id": "officers-unit-01", "channel_kind": "officers",
        "source_message_id": f"wecom:{uuid.uuid4().hex}", "anonymous": True,
        "text": text, "sent_at": datetime.now(UTC).isoformat(), **extra,
    }


async def open_channel(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    """Intake accepts messages only for channels it knows."""
    body = {"id": "officers-unit-01", "kind": "officers", "name": "民警思想“吐槽”群", "external_group_id": "g-01"}
    response = await client.post("/channels", json=body, headers=headers)
    assert response.status_code == 201, response.text


def concern_event(text: str = "想请假回家看看父母") -> CloudEvent:
    concern_id = f"c-{uuid.uuid4().hex}"
    data = ConcernRaised(concern_id=concern_id, channel_id="officers-unit-01", channel_kind="officers",
                         origin="api", text=text, sent_at=datetime.now(UTC))
    return make_event(data, subject=concern_id, correlationid="corr-test")


async def publish_raw(amqp_url: str, exchange: str, body: bytes, routing_key: str) -> None:
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        ex = await channel.get_exchange(exchange)
        message = aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
        await ex.publish(message, routing_key=routing_key)
    finally:
        await connection.close()


async def test_one_message_travels_intake_triage_counselling_oversight(
    settings_env, clean_run, signing_key, mongo_client, event_capture
):
    intake = create_intake(IntakeSettings(**settings_env("intake")))
    triage = create_triage(TriageSettings(**settings_env("triage")))
    counselling = create_counselling(CounsellingSettings(**settings_env("counselling")))
    oversight = create_oversight(OversightSettings(**settings_env("oversight")))
    async with running(oversight), running(counselling), running(triage), running(intake) as client:
        await open_channel(client, signing_key.headers("admin"))
        text = "宿舍热水器坏了一周，晚上洗不了澡，希望能修一下！😣 Thanks"
        response = await client.post("/messages", json=message_body(text), headers=signing_key.headers("system"))
        assert response.status_code == 201, response.text
        concern_id = response.json()["id"]
        assert response.json()["text"] == text

        opened = await event_capture.wait_for_type("case.opened")
        assert opened[0].data["concern_id"] == concern_id
        ledger = mongo_client[f"{clean_run}_oversight"]["ledger"]
        await eventually(lambda: ledger.count_documents({"subject": f"case-{concern_id}"}))

        # Each service wrote to its own database, and only intake and counselling hold the text.
        assert await mongo_client[f"{clean_run}_intake"]["messages"].count_documents({"_id": concern_id}) == 1
        assert await mongo_client[f"{clean_run}_triage"]["decisions"].count_documents({"_id": concern_id}) == 1
        case = await mongo_client[f"{clean_run}_counselling"]["cases"].find_one({"_id": f"case-{concern_id}"})
        assert case is not None and case["state"] == "open"
        assert await ledger.count_documents({"type": "concern.triaged.v1", "subject": concern_id}) == 1
        for db in ("triage", "oversight"):
            for name in await mongo_client[f"{clean_run}_{db}"].list_collection_names():
                async for stored in mongo_client[f"{clean_run}_{db}"][name].find():
                    assert text not in json.dumps(stored, default=str, ensure_ascii=False)
        # The correlation id of the request follows the events.
        raised = event_capture.of_type("concern.raised")[0]
        assert opened[0].correlationid == raised.correlationid == response.headers["x-correlation-id"]


async def test_event_from_one_process_reaches_a_consumer_in_another(
    settings_env, clean_run, signing_key, mongo_client, log_dir
):
    triage = create_triage(TriageSettings(**settings_env("triage")))
    intake_process = ServiceProcess("intake", settings_env("intake"), log_dir=log_dir)
    async with running(triage):
        await intake_process.started()
        try:
            async with httpx.AsyncClient(base_url=intake_process.url) as client:
                await open_channel(client, signing_key.headers("admin"))
                response = await client.post("/messages", json=message_body(), headers=signing_key.headers("system"))
            assert response.status_code == 201, response.text
            concern_id = response.json()["id"]
            decisions = mongo_client[f"{clean_run}_triage"]["decisions"]
            await eventually(lambda: decisions.find_one({"_id": concern_id}))
        finally:
            await intake_process.stopped()
    assert intake_process.proc is not None and intake_process.proc.returncode is not None
    lines = [json.loads(line) for line in intake_process.logs().splitlines() if line.startswith("{")]
    assert lines and all("correlation_id" in line and "service" in line for line in lines)


CRASH_AFTER_WRITE = """
import asyncio, os, signal, sys
from datetime import UTC, datetime
from tongpin.intake.handlers import messages as handlers
from tongpin.intake.repository import MessageRepository
from tongpin.intake.settings import IntakeSettings
from tongpin.shared.mongo import make_client

async def main():
    settings = IntakeSettings()
    client = make_client(settings)
    repo = MessageRepository(client[settings.database_name])
    doc, created = await handlers.accept_message(
        repo=repo, channel_id="officers-unit-01", channel_kind="officers", source_message_id=sys.argv[1],
        text="写入之后、发布之前进程被杀", sent_at=datetime.now(UTC), author_member_id=None,
        correlation_id="crash-test", traceparent=None)
    print(doc["_id"], flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # the state is written; the event was never published

asyncio.run(main())
"""


async def test_killed_after_write_before_publish_event_goes_out_once_after_restart(
    settings_env, clean_run, signing_key, mongo_client, event_capture, log_dir
):
    intake_env = settings_env("intake")
    env = {**os.environ, **settings_to_env(intake_env)}
    source_id = f"wecom:{uuid.uuid4().hex}"
    proc = subprocess.run([sys.executable, "-c", CRASH_AFTER_WRITE, source_id], env=env, capture_output=True,
                          timeout=60, check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    concern_id = proc.stdout.decode().strip()
    stored = await mongo_client[f"{clean_run}_intake"]["messages"].find_one({"_id": concern_id})
    assert stored is not None and stored["outbox_pending"] == 1

    triage = create_triage(TriageSettings(**settings_env("triage")))
    async with running(triage):
        assert event_capture.of_type("concern.raised") == []
        restarted = await ServiceProcess("intake", intake_env, log_dir=log_dir).started()
        try:
            raised = await event_capture.wait_for_type("concern.raised")
            assert raised[0].data["concern_id"] == concern_id
            decisions = mongo_client[f"{clean_run}_triage"]["decisions"]
            await eventually(lambda: decisions.find_one({"_id": concern_id}))
            # The relay clears the outbox once the broker confirmed, which may be after triage decided.
            messages = mongo_client[f"{clean_run}_intake"]["messages"]

            async def cleared() -> bool:
                after = await messages.find_one({"_id": concern_id})
                return after["outbox_pending"] == 0 and after["outbox"] == {}

            await eventually(cleared)
        finally:
            await restarted.stopped()
        # A second restart finds nothing left to publish.
        again = await ServiceProcess("intake", intake_env, log_dir=log_dir).started()
        await asyncio.sleep(1.0)
        await again.stopped()
        assert len(event_capture.of_type("concern.raised")) == 1
        assert len(event_capture.of_type("concern.triaged")) == 1
        assert await mongo_client[f"{clean_run}_triage"]["decisions"].count_documents({}) == 1


async def test_same_event_delivered_twice_has_one_effect(settings_env, clean_run, mongo_client, event_capture):
    triage = create_triage(TriageSettings(**settings_env("triage")))
    async with running(triage):
        event = concern_event()
        for _ in range(2):
            await publish_raw(settings_env("triage")["AMQP_URL"], f"{clean_run}.events", event.to_json_bytes(),
                              event.type)
        await event_capture.wait_for_type("concern.triaged")
        await asyncio.sleep(1.0)  # time for the second delivery
        assert len(event_capture.of_type("concern.triaged")) == 1
        assert await mongo_client[f"{clean_run}_triage"]["decisions"].count_documents({}) == 1
        # The decision, keyed by the concern, is the inbox entry of concern.raised: no separate one.
        assert await mongo_client[f"{clean_run}_triage"]["inbox"].count_documents({}) == 0


def probe_app(settings: ServiceSettings, handler) -> Any:
    runtime = ServiceRuntime(settings, indexes={}, outbox_collections=[],
                             handlers=lambda rt: {"concern.raised.v1": handler})
    return create_service_app(runtime, title="probe")


async def test_always_failing_handler_is_retried_then_parked_and_can_be_replayed(
    settings_env, clean_run, signing_key, mongo_client
):
    attempts: list[datetime] = []
    fail = {"on": True}

    async def handler(event: CloudEvent, data: Any) -> None:
        attempts.append(datetime.now(UTC))
        if fail["on"]:
            raise RuntimeError("处理失败：下游不可用")

    app = probe_app(ServiceSettings(**settings_env("probe", retry_delays=[0.3, 0.6])), handler)
    async with running(app) as client:
        event = concern_event()
        await publish_raw(settings_env("probe")["AMQP_URL"], f"{clean_run}.events", event.to_json_bytes(), event.type)
        dead = mongo_client[f"{clean_run}_probe"]["dead_letters"]
        doc = await eventually(lambda: dead.find_one({"event_id": event.id}), timeout=15)
        assert len(attempts) == 3  # first delivery and two retries
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(attempts)]
        assert gaps[0] >= 0.25 and gaps[1] >= 0.55  # back-off grows
        assert doc["reason"] == "handler_failed" and "下游不可用" in doc["error"]

        admin = signing_key.headers("admin")
        listed = await client.get("/ops/dead-letters", headers=admin)
        assert listed.status_code == 200
        assert [d["id"] for d in listed.json()["items"]] == [doc["_id"]]
        assert (await client.get("/ops/dead-letters", headers=signing_key.headers("auditor"))).status_code == 403

        fail["on"] = False
        replayed = await client.post(f"/ops/dead-letters/{doc['_id']}/replay", headers=admin)
        assert replayed.status_code == 200 and replayed.json()["replay_count"] == 1
        inbox = mongo_client[f"{clean_run}_probe"]["inbox"]
        await eventually(lambda: inbox.find_one({"_id": event.id}))
        assert len(attempts) == 4
        assert (await client.get("/ops/dead-letters", headers=admin)).json()["items"] == []
        missing = await client.post("/ops/dead-letters/nope/replay", headers=admin)
        assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"


async def test_bad_messages_are_parked_with_a_reason_and_never_block_the_queue(settings_env, clean_run, mongo_client):
    handled: list[str] = []

    async def handler(event: CloudEvent, data: Any) -> None:
        handled.append(event.id)

    app = probe_app(ServiceSettings(**settings_env("probe")), handler)
    url, exchange, key = settings_env("probe")["AMQP_URL"], f"{clean_run}.events", "concern.raised.v1"
    async with running(app):
        good = concern_event()
        wrong_schema = concern_event().model_dump(mode="json")
        wrong_schema["data"]["channel_kind"] = "wechat"
        unknown = {**concern_event().model_dump(mode="json"), "type": "concern.whispered.v1"}
        await publish_raw(url, exchange, "不是JSON {".encode(), key)
        await publish_raw(url, exchange, json.dumps(wrong_schema).encode(), key)
        await publish_raw(url, exchange, json.dumps(unknown).encode(), key)
        await publish_raw(url, exchange, json.dumps({"id": "x"}).encode(), key)
        await publish_raw(url, exchange, good.to_json_bytes(), key)
        dead = mongo_client[f"{clean_run}_probe"]["dead_letters"]
        await eventually(lambda: _count_at_least(dead, 4), timeout=10)
        reasons = sorted([d["reason"] async for d in dead.find()])
        assert reasons == ["bad_data", "bad_envelope", "not_json", "unknown_type"]
        wrong = await dead.find_one({"reason": "bad_data"})
        assert "channel_kind" in wrong["error"]
        await eventually(lambda: handled == [good.id])


async def _count_at_least(coll, n: int) -> bool:
    return await coll.count_documents({}) >= n
