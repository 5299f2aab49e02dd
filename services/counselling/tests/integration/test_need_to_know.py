"""Need-to-know on cases: the assignee, the case's team in its unit and the coordinator; the glass for
anyone else (pen-test finding 8)."""

from __future__ import annotations

import asyncio

import pytest

from tongpin.shared.testing.services import eventually

pytestmark = pytest.mark.integration

DISTRESS = "最近总是睡不着，觉得活着没什么意思，不知道找谁说"


async def psychologists_case(counselling) -> tuple[str, dict, dict]:
    """A mental-distress case of unit-01 assigned to a psychologist; returns the case id and both parties."""
    psychologist = await counselling.add_staff("psychologist", unit="unit-01", name="何老师")
    concern_id = await counselling.raise_concern(
        text=DISTRESS, category="mental_distress", severity="high", route="psych_support",
        assignee_role="psychologist", assignee_id=psychologist["staff_id"], unit="unit-01")
    case_id = f"case-{concern_id}"
    return case_id, psychologist, await counselling.case(case_id)


async def test_a_political_worker_cannot_read_reply_to_or_resolve_a_psychologists_case(counselling, event_capture):
    case_id, _, case = await psychologists_case(counselling)
    for worker in (await counselling.member("political_worker", unit="unit-01"),  # same unit, other team
                   await counselling.member("political_worker", unit="unit-02"),
                   await counselling.member("psychologist", unit="unit-02"),  # same team, other unit
                   counselling.as_("political_worker")):  # not in the directory at all
        read = await counselling.client.get(f"/cases/{case_id}", headers=worker)
        assert read.status_code == 403, read.text
        assert read.headers["content-type"] == "application/problem+json" and DISTRESS not in read.text
        assert read.json()["break_glass"] == f"/cases/{case_id}/break-glass"
        reply = await counselling.client.post(f"/cases/{case_id}/replies", headers=worker,
                                              json={"text": "我来回复", "version": case["version"]})
        resolve = await counselling.client.post(f"/cases/{case_id}/resolve", headers=worker, json={
            "method": "answered_online", "outcome_code": "question_answered", "version": case["version"]})
        notes = await counselling.client.get(f"/cases/{case_id}/notes", headers=worker)
        talk = await counselling.client.post(f"/cases/{case_id}/talks", headers=worker, json={
            "scheduled_for": "2099-01-01T08:00:00+08:00", "place": "谈心室", "version": case["version"]})
        assert [r.status_code for r in (reply, resolve, notes, talk)] == [403, 403, 403, 403]
        listing = await counselling.client.get("/cases", headers=worker)
        assert case_id not in [c["case_id"] for c in listing.json()["items"]]
    await asyncio.sleep(0.3)
    assert (await counselling.case(case_id))["version"] == case["version"]
    assert event_capture.of_type("reply.requested") == []


async def test_the_assignee_the_team_in_the_unit_and_the_coordinator_may_work_the_case(counselling):
    case_id, psychologist, case = await psychologists_case(counselling)
    assignee = counselling.as_("psychologist", sub=psychologist["staff_id"])
    colleague = await counselling.member("psychologist", unit="unit-01")
    coordinator = counselling.as_("centre_coordinator")
    for headers in (assignee, colleague, coordinator):
        assert (await counselling.client.get(f"/cases/{case_id}", headers=headers)).status_code == 200
        listing = await counselling.client.get("/cases", headers=headers)
        assert case_id in [c["case_id"] for c in listing.json()["items"]]
    replied = await counselling.client.post(f"/cases/{case_id}/replies", headers=colleague,
                                            json={"text": "您好，我是心理老师。", "version": case["version"]})
    assert replied.status_code == 201, replied.text


async def test_breaking_the_glass_reads_the_case_once_with_a_reason_recorded_and_told(counselling):
    coordinator = await counselling.add_staff("centre_coordinator", name="舒主任")
    case_id, _, case = await psychologists_case(counselling)
    worker = await counselling.add_staff("political_worker", unit="unit-02", name="张干事")
    headers = counselling.as_("political_worker", sub=worker["staff_id"])

    no_reason = await counselling.client.post(f"/cases/{case_id}/break-glass", headers=headers, json={"reason": " "})
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "reason"
    reason = "当事人今晚在我所值班室情绪激动，需要了解既往情况以便稳定情绪"
    glass = await counselling.client.post(f"/cases/{case_id}/break-glass", headers=headers, json={"reason": reason})
    assert glass.status_code == 200, glass.text
    assert glass.json()["concerns"][0]["text"] == DISTRESS
    # The glass reads; it does not open the case for work.
    reply = await counselling.client.post(f"/cases/{case_id}/replies", headers=headers,
                                          json={"text": "我来回复", "version": case["version"]})
    assert reply.status_code == 403
    assert (await counselling.client.get(f"/cases/{case_id}", headers=headers)).status_code == 403

    stored = [r async for r in counselling.db["break_glass_reads"].find({"case_id": case_id})]
    assert [(r["staff_id"], r["reason"]) for r in stored] == [(worker["staff_id"], reason)]
    told = await eventually(lambda: counselling.feed(coordinator["staff_id"], "centre_coordinator"))
    assert [(n["kind"], n["case_id"], n["details"]["reader_id"]) for n in told] == [
        ("break_glass", case_id, worker["staff_id"])]
    assert reason not in str(told)
    reasons = await counselling.client.get("/break-glass", headers=counselling.as_("centre_coordinator"))
    assert [(r["case_id"], r["staff_id"], r["reason"]) for r in reasons.json()["items"]] == [
        (case_id, worker["staff_id"], reason)]

    summary = await counselling.client.get("/break-glass/summary", headers=counselling.as_("auditor"))
    assert summary.status_code == 200, summary.text
    assert summary.json()["total"] == 1 and sum(m["reads"] for m in summary.json()["by_month"]) == 1
    assert case_id not in summary.text and worker["staff_id"] not in summary.text and reason not in summary.text
    for role in ("auditor", "committee_member", "admin"):
        assert (await counselling.client.post(f"/cases/{case_id}/break-glass", headers=counselling.as_(role),
                                              json={"reason": reason})).status_code == 403
    assert (await counselling.client.get("/break-glass", headers=counselling.as_("auditor"))).status_code == 403


async def test_escalation_material_follows_the_case(counselling):
    case_id, psychologist, case = await psychologists_case(counselling)
    assignee = counselling.as_("psychologist", sub=psychologist["staff_id"])
    escalated = await counselling.client.post(f"/cases/{case_id}/escalations", headers=assignee, json={
        "subject": "申请心理援助经费", "background": "当事人长期失眠", "actions_taken": "已约谈三次",
        "decision_requested": "批准外聘专家", "version": case["version"]})
    assert escalated.status_code == 201, escalated.text
    escalation_id = escalated.json()["escalation_id"]
    outsider = await counselling.member("political_worker", unit="unit-02")
    for path in (f"/escalations/{escalation_id}", f"/escalations/{escalation_id}/material.html"):
        assert (await counselling.client.get(path, headers=outsider)).status_code == 403
        assert (await counselling.client.get(path, headers=assignee)).status_code == 200
        assert (await counselling.client.get(path, headers=counselling.as_("committee_member"))).status_code == 200
