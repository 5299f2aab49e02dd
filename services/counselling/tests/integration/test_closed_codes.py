"""Outcome, decision and reason codes are closed lists: the API offers them with labels and refuses any other."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tongpin.shared.codes import COMMITTEE_DECISIONS

pytestmark = pytest.mark.integration

MATERIAL = {
    "subject": "关于民警婚房困难的请示", "background": "因无住房婚期一再推迟。",
    "actions_taken": "已多次谈心。", "decision_requested": "请党委研究是否可借用闲置周转房。",
}


async def test_the_lists_are_served_with_chinese_and_english_labels(counselling):
    for role in ("political_worker", "committee_member", "auditor", "system"):
        response = await counselling.client.get("/codes", headers=counselling.as_(role))
        assert response.status_code == 200, (role, response.text)
    lists = {entry["name"]: entry for entry in response.json()["lists"]}
    assert set(lists) == {"talk_outcome", "resolution_outcome", "committee_decision", "reopen_reason",
                          "talk_cancel_reason"}
    assert [c["code"] for c in lists["committee_decision"]["codes"]] == list(COMMITTEE_DECISIONS.values())
    housing = next(c for c in lists["committee_decision"]["codes"] if c["code"] == "housing_arranged")
    assert housing == {"code": "housing_arranged", "zh": "协调解决住房", "en": "Housing arranged"}
    assert lists["reopen_reason"]["zh"] == "重新办理原因" and lists["reopen_reason"]["en"] == "Reason for reopening"
    assert (await counselling.client.get("/codes")).status_code == 401


async def test_a_code_off_its_list_is_a_422_naming_the_field_and_writes_nothing(counselling, event_capture):
    worker = await counselling.add_staff("political_worker", unit="unit-01")
    as_worker = counselling.as_("political_worker", sub=worker["staff_id"])
    member = await counselling.add_staff("committee_member")
    as_committee = counselling.as_("committee_member", sub=member["staff_id"])
    cases = counselling.db["cases"]

    async def stored(case_id: str) -> dict[str, Any]:
        # The outbox relay clears published events meanwhile; everything else must stay as it was.
        doc = await cases.find_one({"_id": case_id})
        return {k: v for k, v in doc.items() if not k.startswith("outbox")}

    async def refused(path: str, headers: dict[str, str], body: dict[str, Any], field: str, case_id: str) -> None:
        before = await stored(case_id)
        response = await counselling.client.post(path, headers=headers, json={**body, "version": before["version"]})
        assert response.status_code == 422, (path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in response.json()["errors"]] == [field], response.json()
        assert await stored(case_id) == before, f"{path} wrote to the case"

    # Talks: a held outcome and a cancel reason off their lists.
    talk_case = f"case-{await counselling.raise_concern(assignee_id=worker['staff_id'])}"
    case = await counselling.case(talk_case)
    booked = await counselling.client.post(f"/cases/{talk_case}/talks", headers=as_worker, json={
        "scheduled_for": (datetime.now(UTC) + timedelta(days=1)).isoformat(), "place": "谈心室",
        "version": case["version"]})
    assert booked.status_code == 201, booked.text
    talk_id = booked.json()["pending_talk_id"]
    talk = f"/cases/{talk_case}/talks/{talk_id}"
    # Code-shaped pinyin and English words the old pattern let through, and a code from another list.
    for code in ("tanhua_wancheng", "ok", "housing_arranged"):
        await refused(f"{talk}/held", as_worker, {"outcome_code": code}, "outcome_code", talk_case)
    await refused(f"{talk}/cancel", as_worker, {"reason_code": "officer_on_duty"}, "reason_code", talk_case)

    # Resolution and reopening.
    online_case = f"case-{await counselling.raise_concern(assignee_id=worker['staff_id'])}"
    case = await counselling.case(online_case)
    replied = await counselling.client.post(f"/cases/{online_case}/replies", headers=as_worker,
                                            json={"text": "已答复。", "version": case["version"]})
    assert replied.status_code == 201
    resolve = f"/cases/{online_case}/resolve"
    for code in ("done", "jiejue_le", "problem_recurred"):
        await refused(resolve, as_worker, {"method": "answered_online", "outcome_code": code}, "outcome_code",
                      online_case)
    resolved = await counselling.client.post(resolve, headers=as_worker, json={
        "method": "answered_online", "outcome_code": "question_answered", "version": replied.json()["case"]["version"]})
    assert resolved.status_code == 200, resolved.text
    await refused(f"/cases/{online_case}/reopen", as_worker, {"reason_code": "again"}, "reason_code", online_case)

    # The committee's decision.
    committee_case = f"case-{await counselling.raise_concern(assignee_id=worker['staff_id'])}"
    case = await counselling.case(committee_case)
    escalated = await counselling.client.post(f"/cases/{committee_case}/escalations", headers=as_worker,
                                              json={**MATERIAL, "version": case["version"]})
    assert escalated.status_code == 201, escalated.text
    escalation_id = escalated.json()["escalation_id"]
    decision = {"decided": "借用闲置周转房一套", "actor_kind": "body", "actor_id": "logistics_office"}
    for code in ("lend_flat", "jieyong_zhoufang"):
        await refused(f"/escalations/{escalation_id}/decision", as_committee, {**decision, "decision_code": code},
                      "decision_code", committee_case)
    escalation = (await counselling.client.get(f"/escalations/{escalation_id}", headers=as_committee)).json()
    assert escalation["status"] == "open" and escalation.get("decision") is None

    # Only the one listed resolution went out; no refused code reached the broker.
    await event_capture.wait_for_type("case.resolved")
    assert [e.data["outcome_code"] for e in event_capture.of_type("case.resolved")] == ["question_answered"]
    for kind in ("talk.held", "case.reopened", "escalation.decided"):
        assert event_capture.of_type(kind) == [], kind
