"""Isolation, end to end: a canary written into a concern, a staff reply and a sealed note is found
nowhere in oversight — not in its database, not in the events its queue receives, not in its logs."""

from __future__ import annotations

import base64
import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tongpin.counselling.app import create_app as create_counselling
from tongpin.counselling.settings import CounsellingSettings
from tongpin.intake.app import create_app as create_intake
from tongpin.intake.settings import IntakeSettings
from tongpin.shared.events import CONSUMES
from tongpin.shared.testing.services import ServiceProcess, eventually, running
from tongpin.triage.app import create_app as create_triage
from tongpin.triage.settings import TriageSettings

pytestmark = pytest.mark.e2e


async def test_canary_in_concern_reply_and_sealed_note_never_reaches_oversight(
    settings_env, clean_run, signing_key, mongo_client, event_capture, tmp_path: Path
):
    canary = f"金丝雀{uuid.uuid4().hex[:12]}"
    counselling_settings = settings_env(
        "counselling", jwt_private_key_pem=signing_key.private_pem, jwt_key_id=signing_key.kid,
        sealed_note_keys=f"e2e:{base64.b64encode(os.urandom(32)).decode()}", argon2_time_cost=1,
        argon2_memory_kib=8, argon2_parallelism=1)
    # Oversight runs as its own process so its log file can be searched as an operator would.
    oversight = ServiceProcess("oversight", settings_env("oversight"), log_dir=tmp_path).start()
    try:
        intake = create_intake(IntakeSettings(**settings_env("intake")))
        triage = create_triage(TriageSettings(**settings_env("triage")))
        counselling = create_counselling(CounsellingSettings(**counselling_settings))
        async with running(triage), running(counselling) as staff_api, running(intake) as intake_api:
            admin = signing_key.headers("admin")
            worker = signing_key.headers("centre_coordinator", sub="co-isolation")
            await intake_api.post("/channels", headers=admin, json={
                "id": "officers-unit-07", "kind": "officers", "name": "民警思想“吐槽”群",
                "external_group_id": "g-07"})
            text = f"最近加班太多，连续三周没休息，家里孩子生病也顾不上，心里很憋屈。{canary}"
            posted = await intake_api.post("/messages", headers=signing_key.headers("system"), json={
                "channel_id": "officers-unit-07", "source_message_id": f"wecom:{uuid.uuid4().hex}",
                "anonymous": True, "text": text, "sent_at": datetime.now(UTC).isoformat()})
            assert posted.status_code == 201, posted.text
            case_id = f"case-{posted.json()['id']}"

            async def opened():
                response = await staff_api.get(f"/cases/{case_id}", headers=worker)
                return response.json() if response.status_code == 200 else None

            case = await eventually(opened, timeout=20)
            reply = await staff_api.post(f"/cases/{case_id}/replies", headers=worker, json={
                "text": f"收到，已和大队长沟通调休安排。{canary}", "version": case["version"]})
            assert reply.status_code == 201, reply.text
            note = await staff_api.post(f"/cases/{case_id}/notes", headers=worker,
                                        json={"text": f"谈话记录：情绪低落，需跟进。{canary}"})
            assert note.status_code == 201, note.text
            resolved = await staff_api.post(f"/cases/{case_id}/resolve", headers=worker, json={
                "method": "answered_online", "outcome_code": "support_provided",
                "version": reply.json()["case"]["version"]})
            assert resolved.status_code == 200, resolved.text

            ledger = mongo_client[f"{clean_run}_oversight"]["ledger"]
            await eventually(lambda: ledger.count_documents({"type": "case.resolved.v1"}), timeout=20)
            # The canary did travel: intake and counselling hold it, and text events carried it.
            assert await mongo_client[f"{clean_run}_intake"]["messages"].count_documents({"text": text}) == 1
            text_events = [e for e in event_capture.events if canary in e.model_dump_json()]
            assert {e.type for e in text_events} >= {"concern.raised.v1", "reply.requested.v1"}
    finally:
        oversight.stop()

    # Nowhere in oversight's database, raw...
    oversight_db = mongo_client[f"{clean_run}_oversight"]
    names = await oversight_db.list_collection_names()
    assert "ledger" in names
    for name in names:
        async for doc in oversight_db[name].find():
            assert canary not in json.dumps(doc, default=str, ensure_ascii=False), f"canary in oversight.{name}"
    # ...nor in any event of a type oversight's queue is bound to...
    bound = set(CONSUMES["oversight"])
    received = [e for e in event_capture.events if e.type in bound]
    assert any(e.type == "case.resolved.v1" for e in received)
    assert all(canary not in e.model_dump_json() for e in received)
    # ...nor in its logs.
    logs = oversight.logs()
    assert "case.resolved.v1" in logs or "service.started" in logs
    assert canary not in logs
