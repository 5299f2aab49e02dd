"""Offline talks (约谈): schedule, reschedule, cancel, reminders, held with outcome, resolved offline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tongpin.counselling.handlers import targets as handlers

pytestmark = pytest.mark.integration


async def test_talk_lifecycle_with_reminders_and_offline_resolution(counselling, event_capture):
    worker = await counselling.add_staff("political_worker")
    colleague = await counselling.add_staff("centre_coordinator")
    concern_id = await counselling.raise_concern(assignee_id=worker["staff_id"], text="想和领导当面谈谈调岗的事")
    case_id = f"case-{concern_id}"
    as_worker = counselling.as_("political_worker", sub=worker["staff_id"])
    case = await counselling.case(case_id)

    past = await counselling.client.post(f"/cases/{case_id}/talks", headers=as_worker, json={
        "scheduled_for": (datetime.now(UTC) - timedelta(hours=1)).isoformat(), "place": "谈心室",
        "version": case["version"]})
    assert past.status_code == 422 and past.json()["errors"][0]["field"] == "scheduled_for"
    naive = await counselling.client.post(f"/cases/{case_id}/talks", headers=as_worker, json={
        "scheduled_for": "2030-01-01T09:00:00", "place": "谈心室", "version": case["version"]})
    assert naive.status_code == 422 and naive.json()["errors"][0]["field"] == "scheduled_for"
    assert (await counselling.case(case_id))["version"] == case["version"]

    when = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    scheduled = await counselling.client.post(f"/cases/{case_id}/talks", headers=as_worker, json={
        "scheduled_for": when.isoformat(), "place": "三楼谈心室（302）", "participants": ["张警官", "王干事"],
        "staff_ids": [colleague["staff_id"]], "version": case["version"]})
    assert scheduled.status_code == 201, scheduled.text
    body = scheduled.json()
    assert body["state"] == "talk_scheduled" and body["talks"][0]["place"] == "三楼谈心室（302）"
    talk_id = body["pending_talk_id"]
    event = (await event_capture.wait_for_type("talk.scheduled"))[0].data
    assert event["talk_id"] == talk_id and datetime.fromisoformat(event["scheduled_for"]) == when

    later = when + timedelta(days=1)
    moved = await counselling.client.patch(f"/cases/{case_id}/talks/{talk_id}", headers=as_worker, json={
        "scheduled_for": later.isoformat(), "place": "心理咨询室", "version": body["version"]})
    assert moved.status_code == 200, moved.text
    assert moved.json()["pending_talk_for"].startswith(later.isoformat()[:19])
    assert moved.json()["talks"][0]["place"] == "心理咨询室"
    rescheduled = await event_capture.wait_for_type("talk.scheduled", count=2)
    assert datetime.fromisoformat(rescheduled[1].data["scheduled_for"]) == later

    # Reminders: nothing a day and a half early, one for each staff member within the lead time, once.
    ctx = counselling.ctx
    early = await handlers.send_talk_reminders(repo=ctx.cases, feed=ctx.feed, now=later - timedelta(hours=36),
                                               lead=timedelta(hours=1), webhook=False)
    assert early == []
    due = await handlers.send_talk_reminders(repo=ctx.cases, feed=ctx.feed, now=later - timedelta(minutes=30),
                                             lead=timedelta(hours=1), webhook=False)
    again = await handlers.send_talk_reminders(repo=ctx.cases, feed=ctx.feed, now=later - timedelta(minutes=20),
                                               lead=timedelta(hours=1), webhook=False)
    assert due == [talk_id] and again == []
    for staff_id in (worker["staff_id"], colleague["staff_id"]):
        reminders = [n for n in await counselling.feed(staff_id) if n["kind"] == "talk_reminder"]
        assert len(reminders) == 1 and reminders[0]["details"]["talk_id"] == talk_id

    case = await counselling.case(case_id)
    cancelled = await counselling.client.post(f"/cases/{case_id}/talks/{talk_id}/cancel", headers=as_worker,
                                              json={"reason_code": "duty_clash", "version": case["version"]})
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "open"
    assert cancelled.json()["talks"][0]["status"] == "cancelled"
    early_resolve = await counselling.client.post(f"/cases/{case_id}/resolve", headers=as_worker, json={
        "method": "resolved_offline", "outcome_code": "difficulty_resolved", "version": cancelled.json()["version"]})
    assert early_resolve.status_code == 409

    second = await counselling.client.post(f"/cases/{case_id}/talks", headers=as_worker, json={
        "scheduled_for": when.isoformat(), "place": "谈心室", "version": cancelled.json()["version"]})
    second_id = second.json()["pending_talk_id"]
    wrong = await counselling.client.post(f"/cases/{case_id}/talks/{talk_id}/held", headers=as_worker,
                                          json={"outcome_code": "plan_agreed", "version": second.json()["version"]})
    assert wrong.status_code == 409
    held = await counselling.client.post(f"/cases/{case_id}/talks/{second_id}/held", headers=as_worker,
                                         json={"outcome_code": "plan_agreed", "version": second.json()["version"]})
    assert held.status_code == 200 and held.json()["state"] == "talk_held"
    assert (await event_capture.wait_for_type("talk.held"))[0].data["outcome_code"] == "plan_agreed"
    resolved = await counselling.client.post(f"/cases/{case_id}/resolve", headers=as_worker, json={
        "method": "resolved_offline", "outcome_code": "difficulty_resolved", "version": held.json()["version"]})
    assert resolved.status_code == 200 and resolved.json()["resolution_method"] == "resolved_offline"
    event = (await event_capture.wait_for_type("case.resolved"))[0].data
    assert event["method"] == "resolved_offline" and event["first_response_met"] is None
    unknown = await counselling.client.post(f"/cases/{case_id}/talks/talk-nope/held", headers=as_worker,
                                            json={"outcome_code": "plan_agreed", "version": resolved.json()["version"]})
    assert unknown.status_code == 404
