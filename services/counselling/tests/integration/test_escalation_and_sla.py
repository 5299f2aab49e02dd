"""Time targets (flagged, listed, notified, figures) and escalation to the committee (material, board, decision)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tongpin.counselling.app import create_app
from tongpin.counselling.handlers import targets as handlers
from tongpin.counselling.settings import CounsellingSettings
from tongpin.shared.testing.services import running

pytestmark = pytest.mark.integration

MATERIAL = {
    "subject": "关于民警张某婚房困难的请示",
    "background": "张某，派出所民警，工作五年，因无住房婚期一再推迟。\n<script>alert(1)</script>",
    "actions_taken": "已多次谈心；协调住房公积金贷款未果。",
    "decision_requested": "请党委研究是否可借用局闲置周转房。",
}


async def test_overdue_cases_are_flagged_listed_notified_and_counted(counselling):
    worker = await counselling.add_staff("political_worker")
    coordinator = await counselling.add_staff("centre_coordinator")
    late = await counselling.raise_concern(severity="critical", assignee_id=worker["staff_id"])
    unassigned = await counselling.raise_concern(severity="high", assignee_role=None)
    on_time = await counselling.raise_concern(severity="low", assignee_id=worker["staff_id"])
    case = await counselling.case(f"case-{on_time}")
    await counselling.client.post(f"/cases/case-{on_time}/replies",
                                  headers=counselling.as_("political_worker", sub=worker["staff_id"]),
                                  json={"text": "已回复", "version": case["version"]})
    ctx = counselling.ctx
    now = datetime.now(UTC) + timedelta(hours=3)  # critical (15m) and high (2h) first responses are past due
    flagged = await handlers.flag_overdue(repo=ctx.cases, staff=ctx.staff, feed=ctx.feed, now=now, webhook=False)
    assert sorted(flagged) == sorted([f"case-{late}", f"case-{unassigned}"])
    assert await handlers.flag_overdue(repo=ctx.cases, staff=ctx.staff, feed=ctx.feed, now=now, webhook=False) == []
    assert (await counselling.case(f"case-{late}"))["overdue"] is True
    assert [n["case_id"] for n in await counselling.feed(worker["staff_id"]) if n["kind"] == "overdue"] == [
        f"case-{late}"]
    assert [n["case_id"] for n in await counselling.feed(coordinator["staff_id"]) if n["kind"] == "overdue"] == [
        f"case-{unassigned}"]
    summary = await handlers.sla_figures(repo=ctx.cases, targets=ctx.targets, now=now)
    assert summary["overall"]["cases"] == 3 and summary["overall"]["overdue"] == 2
    assert summary["overall"]["first_response"] == {"met": 1, "missed": 2, "pending": 0, "rate": 1 / 3}
    assert summary["by_severity"]["critical"]["first_response"]["missed"] == 1
    figures = await counselling.client.get("/sla/summary", headers=counselling.as_("auditor"))
    assert figures.status_code == 200 and figures.json()["overall"]["cases"] == 3
    assert figures.json()["targets"]["critical"]["first_response_seconds"] == 900
    listed = await counselling.client.get("/cases/overdue", headers=counselling.as_("centre_coordinator"))
    assert listed.status_code == 200  # not yet overdue by the real clock
    assert all(item["case_id"] != f"case-{on_time}" for item in listed.json()["items"])


async def test_time_targets_come_from_settings(counselling_settings, clean_run, signing_key, event_capture):
    settings = CounsellingSettings(**counselling_settings(sla_targets="medium=1m/2m"))
    app = create_app(settings)
    async with running(app):
        targets = app.state.counselling.targets
        assert targets["medium"].first_response == timedelta(minutes=1)
        assert targets["high"].first_response == timedelta(hours=2)


async def test_escalation_material_board_decision_and_committee_resolution(counselling, event_capture):
    worker = await counselling.add_staff("political_worker")
    member = await counselling.add_staff("committee_member", name="党委委员")
    concern_id = await counselling.raise_concern(assignee_id=worker["staff_id"], text="结婚没有房子，婚期一拖再拖")
    case_id = f"case-{concern_id}"
    case = await counselling.case(case_id)
    as_worker = counselling.as_("political_worker", sub=worker["staff_id"])

    empty = await counselling.client.post(f"/cases/{case_id}/escalations", headers=as_worker, json={
        **MATERIAL, "background": "", "actions_taken": " \u200b ", "version": case["version"]})
    assert empty.status_code == 422
    assert {e["field"] for e in empty.json()["errors"]} == {"background", "actions_taken"}
    assert (await counselling.case(case_id))["version"] == case["version"]

    created = await counselling.client.post(f"/cases/{case_id}/escalations", headers=as_worker,
                                            json={**MATERIAL, "version": case["version"]})
    assert created.status_code == 201, created.text
    escalation = created.json()
    escalation_id = escalation["escalation_id"]
    assert escalation["status"] == "open" and escalation["material"] == MATERIAL
    event = (await event_capture.wait_for_type("case.escalated"))[0].data
    assert event == {"case_id": case_id, "escalation_id": escalation_id, "category": "housing", "unit": "unit-01",
                     "escalated_at": event["escalated_at"]}
    assert "escalation" in [n["kind"] for n in await counselling.feed(member["staff_id"])]

    html = await counselling.client.get(f"/escalations/{escalation_id}/material.html",
                                        headers=counselling.as_("committee_member"))
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "上报党委材料" in html.text and MATERIAL["subject"] in html.text and "@media print" in html.text
    assert "<script>alert(1)</script>" not in html.text and "&lt;script&gt;" in html.text
    auditor_html = await counselling.client.get(f"/escalations/{escalation_id}/material.html",
                                                headers=counselling.as_("auditor"))
    assert auditor_html.status_code == 403

    board = await counselling.client.get("/escalations", headers=counselling.as_("committee_member"))
    assert [i["escalation_id"] for i in board.json()["items"]] == [escalation_id]

    case = await counselling.case(case_id)
    not_committee = await counselling.client.post(f"/escalations/{escalation_id}/decision", headers=as_worker, json={
        "decision_code": "housing_arranged", "decided": "借用闲置周转房一套", "actor_kind": "body",
        "actor_id": "logistics_office", "version": case["version"]})
    assert not_committee.status_code == 403
    past_due = await counselling.client.post(
        f"/escalations/{escalation_id}/decision", headers=counselling.as_("committee_member", sub=member["staff_id"]),
        json={"decision_code": "housing_arranged", "decided": "借用闲置周转房一套", "actor_kind": "body",
              "actor_id": "logistics_office", "due_by": "2020-01-01T00:00:00+08:00", "version": case["version"]})
    assert past_due.status_code == 422 and past_due.json()["errors"][0]["field"] == "due_by"
    due_by = datetime.now(UTC) + timedelta(days=10)
    decided = await counselling.client.post(
        f"/escalations/{escalation_id}/decision", headers=counselling.as_("committee_member", sub=member["staff_id"]),
        json={"decision_code": "housing_arranged", "decided": "借用闲置周转房一套，由后勤科办理", "actor_kind": "staff",
              "actor_id": worker["staff_id"], "due_by": due_by.isoformat(), "version": case["version"]})
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "decided" and decided.json()["decision"]["decided_by"] == member["staff_id"]
    event = (await event_capture.wait_for_type("escalation.decided"))[0].data
    assert event["decision_code"] == "housing_arranged" and event["case_id"] == case_id
    printed = await counselling.client.get(f"/escalations/{escalation_id}/material.html?lang=en",
                                           headers=as_worker)
    assert "Committee decision" in printed.text and "借用闲置周转房一套，由后勤科办理" in printed.text

    ctx = counselling.ctx
    later = due_by + timedelta(days=1)
    flagged = await handlers.flag_overdue(repo=ctx.cases, staff=ctx.staff, feed=ctx.feed, now=later, webhook=False)
    assert escalation_id in flagged
    assert "decision_overdue" in [n["kind"] for n in await counselling.feed(worker["staff_id"])]
    overdue_board = await counselling.client.get("/escalations?status=decided",
                                                 headers=counselling.as_("centre_coordinator"))
    assert [i["escalation_id"] for i in overdue_board.json()["items"]] == [escalation_id]

    case = await counselling.case(case_id)
    done = await counselling.client.post(f"/escalations/{escalation_id}/done", headers=as_worker,
                                         json={"version": case["version"]})
    assert done.status_code == 200 and done.json()["status"] == "done" and not done.json()["decision_overdue"]
    case = await counselling.case(case_id)
    resolved = await counselling.client.post(f"/cases/{case_id}/resolve", headers=as_worker, json={
        "method": "by_committee", "outcome_code": "committee_decision_carried_out", "version": case["version"]})
    assert resolved.status_code == 200, resolved.text
    event = (await event_capture.wait_for_type("case.resolved"))[0].data
    assert event["method"] == "by_committee" and event["concern_ids"] == [concern_id]
    assert (await counselling.client.get("/escalations/esc-nope", headers=as_worker)).status_code == 404
