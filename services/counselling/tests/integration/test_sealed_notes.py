"""Sealed notes: encrypted at rest, readable by the author's role group only, every read recorded; the canary."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import aio_pika
import httpx
import pytest

from tongpin.shared.events import ConcernRaised, ConcernTriaged, EventData, make_event
from tongpin.shared.messaging.publisher import to_message
from tongpin.shared.testing.services import ServiceProcess, eventually

pytestmark = pytest.mark.integration


async def test_note_access_follows_the_author_group_and_every_read_is_recorded(counselling):
    concern_id = await counselling.raise_concern()
    case_id = f"case-{concern_id}"
    text = "来访者自述近期失眠、食欲差，情绪低落；已约定每周随访。😔"
    written = await counselling.client.post(f"/cases/{case_id}/notes", json={"text": text},
                                            headers=counselling.as_("psychologist", sub="staff-psy-1"))
    assert written.status_code == 201, written.text
    note_id = written.json()["note_id"]
    assert written.json()["author_group"] == "psychologist" and "text" not in written.json()

    read = await counselling.client.get(f"/cases/{case_id}/notes/{note_id}",
                                        headers=counselling.as_("psychologist", sub="staff-psy-2"))
    assert read.status_code == 200 and read.json()["text"] == text
    for role in ("political_worker", "centre_coordinator"):
        refused = await counselling.client.get(f"/cases/{case_id}/notes/{note_id}",
                                               headers=counselling.as_(role, sub=f"staff-{role}"))
        assert refused.status_code == 403 and text not in refused.text
    for role in ("admin", "auditor", "committee_member"):
        refused = await counselling.client.get(f"/cases/{case_id}/notes/{note_id}", headers=counselling.as_(role))
        assert refused.status_code == 403
    denials = [d async for d in counselling.db["access_denials"].find({"note_id": note_id})]
    assert sorted(d["subject"] for d in denials) == ["staff-centre_coordinator", "staff-political_worker"]

    reads = await counselling.client.get(f"/cases/{case_id}/notes/{note_id}/reads", headers=counselling.as_("auditor"))
    assert [(r["reader_id"], r["reader_roles"]) for r in reads.json()] == [("staff-psy-2", ["psychologist"])]

    worker_note = await counselling.client.post(f"/cases/{case_id}/notes", json={"text": "政工谈话要点"},
                                                headers=counselling.as_("political_worker"))
    worker_note_id = worker_note.json()["note_id"]
    by_coordinator = await counselling.client.get(f"/cases/{case_id}/notes/{worker_note_id}",
                                                  headers=counselling.as_("centre_coordinator"))
    assert by_coordinator.status_code == 200 and by_coordinator.json()["text"] == "政工谈话要点"
    by_psychologist = await counselling.client.get(f"/cases/{case_id}/notes/{worker_note_id}",
                                                   headers=counselling.as_("psychologist"))
    assert by_psychologist.status_code == 403
    listing = await counselling.client.get(f"/cases/{case_id}/notes", headers=counselling.as_("psychologist"))
    assert {n["note_id"]: n["readable"] for n in listing.json()} == {note_id: True, worker_note_id: False}
    missing = await counselling.client.get(f"/cases/{case_id}/notes/note-nope", headers=counselling.as_("psychologist"))
    assert missing.status_code == 404
    empty = await counselling.client.post(f"/cases/{case_id}/notes", json={"text": "   "},
                                          headers=counselling.as_("psychologist"))
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "text"


async def test_canary_in_a_note_is_nowhere_in_database_events_or_logs(
    counselling_settings, clean_run, signing_key, mongo_client, event_capture, amqp_url, log_dir
):
    canary = f"CANARY-{uuid.uuid4().hex}-金丝雀"
    process = ServiceProcess("counselling", counselling_settings(log_level="DEBUG"), log_dir=log_dir).start()
    try:
        concern_id = f"c-{uuid.uuid4().hex[:12]}"
        now = datetime.now(UTC)
        for data in (
            ConcernRaised(concern_id=concern_id, channel_id="officers-unit-01", channel_kind="officers",
                          origin="api", text="最近压力很大，睡不着", sent_at=now),
            ConcernTriaged(concern_id=concern_id, channel_id="officers-unit-01", channel_kind="officers",
                           category="mental_distress", severity="medium", route="psych_support",
                           assignee_role="psychologist", ruleset_version=1, triaged_at=now),
        ):
            await _publish(amqp_url, f"{clean_run}.events", data)
        case_id = f"case-{concern_id}"
        async with httpx.AsyncClient(base_url=process.url, timeout=10) as client:
            psych = signing_key.headers("psychologist")

            async def case_opened():
                return (await client.get(f"/cases/{case_id}", headers=psych)).status_code == 200

            await eventually(case_opened, timeout=15)
            written = await client.post(f"/cases/{case_id}/notes", json={"text": f"记录：{canary}"}, headers=psych)
            assert written.status_code == 201, written.text
            note_id = written.json()["note_id"]
            read = await client.get(f"/cases/{case_id}/notes/{note_id}", headers=psych)
            assert canary in read.json()["text"]
            refused = await client.get(f"/cases/{case_id}/notes/{note_id}",
                                       headers=signing_key.headers("political_worker"))
            assert refused.status_code == 403
            case = (await client.get(f"/cases/{case_id}", headers=psych)).json()
            await client.post(f"/cases/{case_id}/replies", headers=psych,
                              json={"text": "收到，我们会跟进。", "version": case["version"]})
            await event_capture.wait_for_type("reply.requested", timeout=15)
    finally:
        process.stop()

    db = mongo_client[f"{clean_run}_counselling"]
    stored = 0
    for name in await db.list_collection_names():
        async for doc in db[name].find():
            stored += 1
            assert canary not in json.dumps(doc, default=str, ensure_ascii=False), name
    assert stored and await db["sealed_notes"].count_documents({"_id": note_id}) == 1
    assert event_capture.raw and len(event_capture.of_type("case.opened")) == 1
    for message in event_capture.raw:
        assert canary.encode() not in message.body
        assert canary not in message.body.decode("utf-8")
    logs = process.logs()
    assert "note.sealed" in logs and "note.read" in logs and "note.read_refused" in logs  # the logs are real
    assert canary not in logs


async def _publish(amqp_url: str, exchange_name: str, data: EventData) -> None:
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(exchange_name, aio_pika.ExchangeType.TOPIC, durable=True)
        await exchange.publish(to_message(make_event(data)), routing_key=data.routing_key())
    finally:
        await connection.close()
