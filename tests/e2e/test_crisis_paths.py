"""Every route to crisis ends with the on-call psychologist, told at once: the model, and a person's override.

Intake, triage and counselling run together against the real servers; messages go in through intake's
public API, and what staff see comes out of triage's and counselling's.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tongpin.counselling.app import create_app as create_counselling
from tongpin.counselling.settings import CounsellingSettings
from tongpin.intake.app import create_app as create_intake
from tongpin.intake.settings import IntakeSettings
from tongpin.shared.testing.services import eventually, running
from tongpin.triage.app import create_app as create_triage
from tongpin.triage.settings import TriageSettings

pytestmark = pytest.mark.e2e

# Written for this test in plain words: no rule of the packaged rule set fires a crisis on it.
FAREWELL = "他这两天把自己的东西都分给了同事，还跟我说以后别等他吃饭了"
WARDROBE = "宿舍的柜子坏了一个月了，衣服都没地方放"
ACK = "收到，明天下午的约谈我准时参加"
PAY = "这个月工资怎么少发了三百，绩效到底怎么算的"


@dataclass
class System:
    intake: httpx.AsyncClient
    triage: httpx.AsyncClient
    counselling: httpx.AsyncClient
    signing_key: Any

    def as_(self, *roles: str, sub: str | None = None) -> dict[str, str]:
        return self.signing_key.headers(*roles, sub=sub)

    async def add_staff(self, *roles: str, on_call: bool = False) -> str:
        response = await self.counselling.post("/staff", headers=self.as_("admin"), json={
            "username": f"u{uuid.uuid4().hex[:10]}", "name": "测试人员", "password": "足够长的密码-123",
            "roles": list(roles), "on_call": on_call})
        assert response.status_code == 201, response.text
        return str(response.json()["staff_id"])

    async def post(self, text: str, channel_id: str, kind: str) -> str:
        response = await self.intake.post("/messages", headers=self.as_("system"), json={
            "channel_id": channel_id, "channel_kind": kind, "source_message_id": f"t:{uuid.uuid4().hex}",
            "anonymous": True, "text": text, "sent_at": datetime.now(UTC).isoformat()})
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def decision(self, concern_id: str) -> dict[str, Any]:
        async def fetch() -> dict[str, Any] | None:
            response = await self.triage.get(f"/decisions/{concern_id}", headers=self.as_("centre_coordinator"))
            return response.json() if response.status_code == 200 else None

        return await eventually(fetch, timeout=20)  # type: ignore[no-any-return]

    async def case_assigned_to(self, case_id: str, staff_id: str) -> dict[str, Any]:
        async def fetch() -> dict[str, Any] | None:
            response = await self.counselling.get(f"/cases/{case_id}", headers=self.as_("centre_coordinator"))
            if response.status_code != 200:
                return None
            case = response.json()
            return case if case["assignee_id"] == staff_id else None

        return await eventually(fetch, timeout=20)  # type: ignore[no-any-return]

    async def crisis_notices(self, staff_id: str, case_id: str) -> list[dict[str, Any]]:
        async def fetch() -> list[dict[str, Any]] | None:
            response = await self.counselling.get("/notifications", headers=self.as_("psychologist", sub=staff_id))
            assert response.status_code == 200, response.text
            found = [n for n in response.json()["items"] if n["case_id"] == case_id and n["kind"] == "crisis"]
            return found or None

        return await eventually(fetch, timeout=20)  # type: ignore[no-any-return]


@pytest.fixture
async def system(settings_env, clean_run, signing_key) -> AsyncIterator[System]:
    counselling_settings = settings_env(
        "counselling", jwt_private_key_pem=signing_key.private_pem, jwt_key_id=signing_key.kid,
        sealed_note_keys=f"e2e:{base64.b64encode(os.urandom(32)).decode()}", argon2_time_cost=1,
        argon2_memory_kib=8, argon2_parallelism=1)

    @asynccontextmanager
    async def all_three() -> AsyncIterator[System]:
        async with running(create_triage(TriageSettings(**settings_env("triage")))) as triage, \
                running(create_counselling(CounsellingSettings(**counselling_settings))) as counselling, \
                running(create_intake(IntakeSettings(**settings_env("intake")))) as intake:
            yield System(intake=intake, triage=triage, counselling=counselling, signing_key=signing_key)

    async with all_three() as running_system:
        admin = signing_key.headers("admin")
        for channel_id, kind in (("officers-e2e", "officers"), ("families-e2e", "families")):
            created = await running_system.intake.post("/channels", headers=admin, json={
                "id": channel_id, "kind": kind, "name": f"{kind} 测试群",
                "external_group_id": f"wecom-{uuid.uuid4().hex[:8]}"})
            assert created.status_code == 201, created.text
        yield running_system


async def test_paraphrased_crisis_reaches_the_on_call_psychologist(system: System) -> None:
    await system.add_staff("psychologist")
    on_call = await system.add_staff("psychologist", on_call=True)
    await system.add_staff("political_worker")

    concern_id = await system.post(FAREWELL, "families-e2e", "families")
    decision = await system.decision(concern_id)
    assert decision["crisis"] and "self_harm" in decision["flags"] and decision["route"] == "psych_support"
    assert decision["judgment_version"].startswith("r1-m")
    # The model made this one: its probability is named, and no rule raised the flag.
    assert any("危机概率" in line for line in decision["reasons"])
    case = await system.case_assigned_to(f"case-{concern_id}", on_call)
    assert case["crisis"] is True
    notices = await system.crisis_notices(on_call, case["case_id"])
    assert len(notices) >= 1

    # The queue puts it first, whatever came before it.
    await system.post(WARDROBE, "officers-e2e", "officers")
    queue = (await system.triage.get("/queue", headers=system.as_("centre_coordinator"))).json()
    assert queue["items"][0]["concern_id"] == concern_id


async def test_override_to_critical_reassigns_to_the_on_call_psychologist_and_tells_them(system: System) -> None:
    worker = await system.add_staff("political_worker")
    on_call = await system.add_staff("psychologist", on_call=True)
    await system.add_staff("psychologist")

    concern_id = await system.post(PAY, "officers-e2e", "officers")
    decision = await system.decision(concern_id)
    assert not decision["crisis"] and decision["route"] == "answer_online"
    case = await system.case_assigned_to(f"case-{concern_id}", worker)

    overridden = await system.triage.post(
        f"/decisions/{concern_id}/overrides", headers=system.as_("centre_coordinator", sub="coord-1"),
        json={"severity": "critical", "reason": "约谈中发现其有轻生念头，立即转心理危机干预",
              "version": decision["version"]})
    assert overridden.status_code == 200, overridden.text
    after = overridden.json()
    assert after["crisis"] and after["route"] == "psych_support" and after["assignee_id"] == on_call

    case = await system.case_assigned_to(case["case_id"], on_call)
    assert case["crisis"] is True and case["assignee_role"] == "psychologist"
    assert await system.crisis_notices(on_call, case["case_id"])


async def test_an_acknowledgement_naming_a_meeting_opens_no_case(system: System) -> None:
    await system.add_staff("political_worker")
    concern_id = await system.post(ACK, "officers-e2e", "officers")
    decision = await system.decision(concern_id)
    assert decision["dismissed"] and decision["route"] == "dismiss"
    response = await system.counselling.get(f"/cases/case-{concern_id}", headers=system.as_("centre_coordinator"))
    assert response.status_code == 404
