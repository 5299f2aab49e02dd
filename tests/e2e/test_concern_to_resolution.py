"""A concern posted to intake travels through triage to a counselling case, resolved offline through the API."""

from __future__ import annotations

import base64
import json
import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tongpin.counselling.app import create_app as create_counselling
from tongpin.counselling.settings import CounsellingSettings
from tongpin.intake.app import create_app as create_intake
from tongpin.intake.settings import IntakeSettings
from tongpin.oversight.app import create_app as create_oversight
from tongpin.oversight.settings import OversightSettings
from tongpin.shared.testing.services import eventually, running
from tongpin.triage.app import create_app as create_triage
from tongpin.triage.settings import TriageSettings

pytestmark = pytest.mark.e2e

TEXT = "我和女朋友谈了五年，因为没有房子婚期一拖再拖，申请周转房也没有消息，心里很着急。"


async def test_concern_from_intake_is_resolved_offline_through_the_counselling_api(
    settings_env, clean_run, signing_key, mongo_client, event_capture
):
    counselling_settings = settings_env(
        "counselling", jwt_private_key_pem=signing_key.private_pem, jwt_key_id=signing_key.kid,
        sealed_note_keys=f"e2e:{base64.b64encode(os.urandom(32)).decode()}", argon2_time_cost=1,
        argon2_memory_kib=8, argon2_parallelism=1)
    intake = create_intake(IntakeSettings(**settings_env("intake")))
    triage = create_triage(TriageSettings(**settings_env("triage")))
    counselling = create_counselling(CounsellingSettings(**counselling_settings))
    oversight = create_oversight(OversightSettings(**settings_env("oversight")))
    async with running(oversight), running(triage), running(counselling) as staff_api, running(intake) as intake_api:
        admin = signing_key.headers("admin")
        # A political worker in the directory (triage builds its assignment pools from staff.updated).
        worker = await staff_api.post("/staff", headers=admin, json={
            "username": f"pw{uuid.uuid4().hex[:6]}", "name": "刘干事", "password": "刘干事的密码123",
            "roles": ["political_worker"]})
        assert worker.status_code == 201, worker.text
        login = await staff_api.post("/auth/token", data={"username": worker.json()["username"],
                                                          "password": "刘干事的密码123"})
        assert login.status_code == 200, login.text
        as_worker = {"Authorization": f"Bearer {login.json()['access_token']}"}

        # Registering the channel first, where intake keeps a channel registry (not part of what is tested).
        await intake_api.post("/channels", headers=admin, json={
            "id": "officers-unit-01", "kind": "officers", "name": "民警思想\u201c吐槽\u201d群",
            "external_group_id": f"wecom-{uuid.uuid4().hex[:8]}"})
        posted = await intake_api.post("/messages", headers=signing_key.headers("system"), json={
            "channel_id": "officers-unit-01", "channel_kind": "officers",
            "source_message_id": f"wecom:{uuid.uuid4().hex}", "anonymous": True, "text": TEXT,
            "sent_at": datetime.now(UTC).isoformat()})
        assert posted.status_code == 201, posted.text
        concern_id = posted.json()["id"]
        case_id = f"case-{concern_id}"

        coordinator = signing_key.headers("centre_coordinator")

        async def opened():
            response = await staff_api.get(f"/cases/{case_id}", headers=coordinator)
            return response.json() if response.status_code == 200 else None

        case = await eventually(opened, timeout=20)
        if case["assignee_id"] != worker.json()["staff_id"]:
            # Need-to-know: the worker opens the case once it is theirs.
            assigned = await staff_api.post(f"/cases/{case_id}/assign", headers=coordinator, json={
                "assignee_id": worker.json()["staff_id"], "version": case["version"]})
            assert assigned.status_code == 200, assigned.text
        case = (await staff_api.get(f"/cases/{case_id}", headers=as_worker)).json()
        assert case["concerns"][0]["text"] == TEXT and case["state"] == "open"

        replied = await staff_api.post(f"/cases/{case_id}/replies", headers=as_worker, json={
            "text": "您好，您的情况我们已了解，想约您当面聊聊，看看能怎么帮上忙。", "version": case["version"]})
        assert replied.status_code == 201, replied.text
        await event_capture.wait_for_type("reply.requested")
        when = datetime.now(UTC) + timedelta(days=1)
        scheduled = await staff_api.post(f"/cases/{case_id}/talks", headers=as_worker, json={
            "scheduled_for": when.isoformat(), "place": "政治处谈心室", "participants": ["刘干事", "当事民警"],
            "version": replied.json()["case"]["version"]})
        assert scheduled.status_code == 201, scheduled.text
        talk_id = scheduled.json()["pending_talk_id"]
        await event_capture.wait_for_type("talk.scheduled")
        held = await staff_api.post(f"/cases/{case_id}/talks/{talk_id}/held", headers=as_worker, json={
            "outcome_code": "plan_agreed", "version": scheduled.json()["version"]})
        assert held.status_code == 200, held.text
        await event_capture.wait_for_type("talk.held")
        resolved = await staff_api.post(f"/cases/{case_id}/resolve", headers=as_worker, json={
            "method": "resolved_offline", "outcome_code": "support_provided", "version": held.json()["version"]})
        assert resolved.status_code == 200, resolved.text

        event = (await event_capture.wait_for_type("case.resolved", timeout=15))[0]
        assert event.data["case_id"] == case_id and event.data["concern_ids"] == [concern_id]
        assert event.data["method"] == "resolved_offline" and event.data["outcome_code"] == "support_provided"
        assert event.data["first_response_at"] is not None
        triaged = event_capture.of_type("concern.triaged")[0].data
        assert event.data["category"] in (triaged["category"], event.data["category"])
        # The oversight ledger records the resolution; what people wrote stays out of it.
        ledger = mongo_client[f"{clean_run}_oversight"]["ledger"]
        await eventually(lambda: ledger.count_documents({"type": "case.resolved.v1"}), timeout=15)
        async for entry in ledger.find():
            assert TEXT not in json.dumps(entry, default=str, ensure_ascii=False)

