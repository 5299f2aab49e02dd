"""Issue 12: every case event oversight counts names the case's unit, and carries the business clock's time."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tongpin.shared.clock import SimulatedClock
from tongpin.shared.events import ConcernRaised, ConcernTriaged

pytestmark = pytest.mark.integration

# Every case event oversight counts, and the field holding when it happened.
COUNTED = {"case.opened": "opened_at", "case.assigned": "assigned_at", "case.replied": "replied_at",
           "talk.scheduled": "scheduled_at", "talk.held": "held_at", "case.escalated": "escalated_at",
           "escalation.decided": "decided_at", "case.resolved": "resolved_at", "case.reopened": "reopened_at"}


async def test_case_events_name_the_unit_and_happen_on_the_simulated_day(counselling_on, event_capture):
    clock = SimulatedClock(datetime(2025, 3, 10, 1, tzinfo=UTC))  # 09:00 in Shanghai
    async with counselling_on(clock) as counselling:
        client = counselling.client
        worker = await counselling.add_staff("political_worker")
        concern_id = f"c-{uuid.uuid4().hex[:12]}"
        raised_at = clock.now() - timedelta(hours=10)
        await counselling.publish(ConcernRaised(
            concern_id=concern_id, channel_id="officers-xtj", channel_kind="officers", origin="api",
            author_member_id="m-1", unit="xtj", text="家里老人住院，想请几天假。", sent_at=raised_at),
            subject=concern_id)
        await counselling.publish(ConcernTriaged(
            concern_id=concern_id, channel_id="officers-xtj", channel_kind="officers", unit="xtj",
            category="workload_leave", severity="medium", route="answer_online", assignee_role="political_worker",
            assignee_id=worker["staff_id"], ruleset_version=1, triaged_at=raised_at + timedelta(minutes=3),
            raised_at=raised_at), subject=concern_id)
        case_id = f"case-{concern_id}"
        case = await counselling.case(case_id)
        as_worker = counselling.as_("political_worker", sub=worker["staff_id"])
        as_committee = counselling.as_("committee_member")
        stamps: dict[str, datetime] = {"case.opened": clock.now(), "case.assigned": clock.now()}

        async def step(event_type: str, method: str, path: str, body: dict[str, object], *, days: int,
                       headers: dict[str, str] = as_worker) -> dict[str, object]:
            clock.advance(timedelta(days=days))
            stamps[event_type] = clock.now()
            current = await counselling.case(case_id)
            response = await client.request(method, path, headers=headers, json={**body,
                                                                                  "version": current["version"]})
            assert response.status_code in (200, 201), response.text
            return dict(response.json())

        await step("case.replied", "POST", f"/cases/{case_id}/replies", {"text": "您好，已经了解，马上安排。"},
                   days=0)
        talk = await step("talk.scheduled", "POST", f"/cases/{case_id}/talks", {
            "scheduled_for": (clock.now() + timedelta(days=3)).isoformat(), "place": "政工室"}, days=1)
        await step("talk.held", "POST", f"/cases/{case_id}/talks/{talk['pending_talk_id']}/held",
                   {"outcome_code": "support_arranged"}, days=3)
        escalated = await step("case.escalated", "POST", f"/cases/{case_id}/escalations", {
            "subject": "民警请假困难", "background": "老人住院", "actions_taken": "已谈话",
            "decision_requested": "请党委研究"}, days=2)
        escalation_id = escalated["escalation_id"]
        clock.advance(timedelta(days=7))
        stamps["escalation.decided"] = clock.now()
        board = (await client.get(f"/escalations/{escalation_id}", headers=as_committee)).json()
        decided = await client.post(f"/escalations/{escalation_id}/decision", headers=as_committee, json={
            "decision_code": "leave_granted", "decided": "准假一周", "actor_kind": "body", "actor_id": "zhengzhichu",
            "due_by": (clock.now() + timedelta(days=30)).isoformat(), "version": board["case_version"]})
        assert decided.status_code == 200, decided.text
        await step("case.resolved", "POST", f"/cases/{case_id}/resolve",
                   {"method": "by_committee", "outcome_code": "committee_decision_carried_out"}, days=1)
        await step("case.reopened", "POST", f"/cases/{case_id}/reopen", {"reason_code": "problem_recurred"}, days=20)

        for event_type, field in COUNTED.items():
            (event,) = {e.id: e for e in await event_capture.wait_for_type(event_type)}.values()
            assert event.data["unit"] == "xtj", event_type
            assert datetime.fromisoformat(event.data[field]) == stamps[event_type], event_type
        assert case["opened_at"].startswith("2025-03-10")
