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
    psy_1 = await counselling.add_staff("psychologist", unit="unit-01")
    psy_2 = await counselling.add_staff("psychologist", unit="unit-01")
    concern_id = await counselling.raise_concern(route="psych_support", assignee_role="psychologist",
                                                 assignee_id=psy_1["staff_id"], category="mental_distress")
    case_id = f"case-{concern_id}"
    # The psychologists of the unit and the coordinator may open the case; the notes are sealed further.
    as_psy_1 = counselling.as_("psychologist", sub=psy_1["staff_id"])
    as_psy_2 = counselling.as_("psychologist", sub=psy_2["staff_id"])
    as_coordinator = counselling.as_("centre_coordinator", sub="staff-centre_coordinator")
    text = "来访者自述近期失眠、食欲差，情绪低落；已约定每周随访。😔"
    written = await counselling.client.post(f"/cases/{case_id}/notes", json={"text": text}, headers=as_psy_1)
    assert written.status_code == 201, written.text
    note_id = written.json()["note_id"]
    assert written.json()["author_group"] == "psychologist" and "text" not in written.json()

    read = await counselling.client.get(f"/cases/{case_id}/notes/{note_id}", headers=as_psy_2)
    assert read.status_code == 200 and read.json()["text"] == text
    worker = await counselling.add_staff("political_worker", unit="unit-01")
    for headers in (as_coordinator, counselling.as_("political_worker", sub=worker["staff_id"])):
        refused = await counselling.client.get(f"/cases/{case_id}/notes/{note_id}", headers=headers)
        assert refused.status_code == 403 and text not in refused.text
    for role in ("admin", "auditor", "committee_member"):
        refused = await counselling.client.get(f"/cases/{case_id}/notes/{note_id}", headers=counselling.as_(role))
        assert refused.status_code == 403
    # The coordinator opened the case but not the sealed note; the political worker not even the case.
    denials = [d async for d in counselling.db["access_denials"].find({"case_id": case_id})]
    assert sorted((d["what"], d["subject"]) for d in denials) == [
        ("case", worker["staff_id"]), ("sealed_note", "staff-centre_coordinator")]

    reads = await counselling.client.get(f"/cases/{case_id}/notes/{note_id}/reads", headers=counselling.as_("auditor"))
    assert [(r["reader_id"], r["reader_roles"]) for r in reads.json()] == [(psy_2["staff_id"], ["psychologist"])]

    worker_note = await counselling.client.post(f"/cases/{case_id}/notes", json={"text": "政工谈话要点"},
                                                headers=as_coordinator)
    worker_note_id = worker_note.json()["note_id"]
    assert worker_note.json()["author_group"] == "political_worker"
    by_coordinator = await counselling.client.get(f"/cases/{case_id}/notes/{worker_note_id}", headers=as_coordinator)
    assert by_coordinator.status_code == 200 and by_coordinator.json()["text"] == "政工谈话要点"
    by_psychologist = await counselling.client.get(f"/cases/{case_id}/notes/{worker_note_id}", headers=as_psy_2)
    assert by_psychologist.status_code == 403
    listing = await counselling.client.get(f"/cases/{case_id}/notes", headers=as_psy_2)
    assert {n["note_id"]: n["readable"] for n in listing.json()} == {note_id: True, worker_note_id: False}
    missing = await counselling.client.get(f"/cases/{case_id}/notes/note-nope", headers=as_psy_2)
    assert missing.status_code == 404
    empty = await counselling.client.post(f"/cases/{case_id}/notes", json={"text": "   "}, headers=as_psy_2)
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
                           assignee_role="psychologist", assignee_id="psy-canary", ruleset_version=1,
                           triaged_at=now),
        ):
            await _publish(amqp_url, f"{clean_run}.events", data)
        case_id = f"case-{concern_id}"
        async with httpx.AsyncClient(base_url=process.url, timeout=10) as client:
            psych = signing_key.headers("psychologist", sub="psy-canary")

            async def case_opened():
                return (await client.get(f"/cases/{case_id}", headers=psych)).status_code == 200

            await eventually(case_opened, timeout=15)
            written = await client.post(f"/cases/{case_id}/notes", json={"text": f"记录：{canary}"}, headers=psych)
            assert written.status_code == 201, written.text
            note_id = written.json()["note_id"]
            read = await client.get(f"/cases/{case_id}/notes/{note_id}", headers=psych)
            assert canary in read.json()["text"]
            # The coordinator may open the case, but not a psychologist's sealed note.
            refused = await client.get(f"/cases/{case_id}/notes/{note_id}",
                                       headers=signing_key.headers("centre_coordinator"))
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
