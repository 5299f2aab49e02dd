"""An escalation raised, decided, flagged overdue and done, and a talk reminder, all through the Case and its
versioned save on the in-memory stores: the stored document at the end, and a writer that cuts in."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from tongpin.counselling.domain.escalation import EscalationMaterial
from tongpin.counselling.handlers import escalations, talks, targets
from tongpin.counselling.repository import CaseRepository

pytestmark = pytest.mark.unit

MATERIAL = EscalationMaterial(subject="住房困难", background="民警因无住房无法结婚。", actions_taken="已线下约谈两次。",
                              decision_requested="请党委协调闲置公寓。")


class CutIn(CaseRepository):
    """After a handler reads the case, someone else changes it once (a reply, a new version)."""

    def __init__(self, world) -> None:
        super().__init__(cast("AsyncDatabase[Any]", world.db))
        self.stored = world.docs("cases")
        self.pending = 1

    async def get_case(self, case_id: str) -> dict[str, Any] | None:
        doc = await super().get_case(case_id)
        if doc is not None and self.pending:
            self.pending -= 1
            self.stored[case_id]["version"] += 1
            self.stored[case_id]["reply_count"] += 1
        return doc


async def test_an_escalation_raised_decided_flagged_and_done_is_stored_in_the_case(world) -> None:
    await world.add_staff("pw-1", "political_worker")
    committee = await world.add_staff("cm-1", "committee_member")
    await world.open_case("c-1", assignee_id="pw-1")
    raised_at = world.now()
    _, escalation_id = await escalations.escalate(
        repo=world.cases, staff=world.staff, feed=world.feed, case_id="case-c-1", version=2, material=MATERIAL,
        by=committee, trace=world.trace, webhook=False)
    due = world.later(hours=1) + timedelta(days=1)
    decided_at = world.now()
    await escalations.decide(repo=world.cases, feed=world.feed, escalation_id=escalation_id, version=3,
                             decision_code="housing_arranged", decided="借用闲置公寓", actor_kind="staff",
                             actor_id="pw-1", due_by=due, by=committee, trace=world.trace, webhook=False)
    flagged_at = world.later(days=2)
    assert await targets.flag_overdue(repo=world.cases, staff=world.staff, feed=world.feed, now=flagged_at,
                                      webhook=False) == ["case-c-1", escalation_id]
    assert world.docs("cases")["case-c-1"]["version"] == 4, "flagging is bookkeeping"
    assert world.docs("cases")["case-c-1"]["escalations"][escalation_id]["decision_overdue"] is True
    await escalations.complete_decision(repo=world.cases, escalation_id=escalation_id, version=4, trace=world.trace)

    doc = world.docs("cases")["case-c-1"]
    assert (doc["state"], doc["version"], doc["escalation_ids"]) == ("decided", 5, [escalation_id])
    assert doc["escalations"] == {escalation_id: {
        "escalation_id": escalation_id, "material": MATERIAL.model_dump(), "prepared_by": "cm-1",
        "prepared_at": raised_at,
        "decision": {"escalation_id": escalation_id, "decision_code": "housing_arranged", "decided": "借用闲置公寓",
                     "actor_kind": "staff", "actor_id": "pw-1", "decided_by": "cm-1", "decided_at": decided_at,
                     "due_by": due},
        "done_at": flagged_at, "decision_overdue": False}}
    assert (doc["decision_code"], doc["decision_due_by"], doc["decided_at"]) == ("housing_arranged", due, decided_at)
    assert world.event_types()[-2:] == ["case.escalated", "escalation.decided"]
    assert [n["kind"] for n in await world.feed_of("pw-1")].count("decision_overdue") == 1


async def test_a_talk_reminder_is_stored_in_the_case_at_the_same_version(world) -> None:
    await world.add_staff("pw-1", "political_worker")
    worker = await world.add_staff("pw-2", "political_worker")
    await world.open_case("c-1", assignee_id="pw-1")
    when = world.now() + timedelta(hours=2)
    _, talk_id = await talks.schedule_talk(repo=world.cases, case_id="case-c-1", version=2, scheduled_for=when,
                                           place="谈心室", participants=[], staff_ids=["pw-2"], by=worker,
                                           trace=world.trace)
    before = dict(world.docs("cases")["case-c-1"])
    assert await targets.send_talk_reminders(repo=world.cases, feed=world.feed, now=world.later(minutes=30),
                                             lead=timedelta(hours=3), webhook=False) == [talk_id]
    doc = world.docs("cases")["case-c-1"]
    assert doc["talks"][talk_id]["reminded_for"] == when
    assert (doc["version"], doc["updated_at"], doc["state"]) == (before["version"], before["updated_at"],
                                                                 "talk_scheduled")
    assert sorted(n["staff_id"] for n in world.rows("notifications") if n["kind"] == "talk_reminder") == [
        "pw-1", "pw-2"]


async def test_a_reminder_cut_in_on_is_noted_again_on_the_fresh_case_and_keeps_the_other_change(world) -> None:
    await world.add_staff("pw-1", "political_worker")
    worker = await world.add_staff("pw-2", "political_worker")
    await world.open_case("c-1", assignee_id="pw-1")
    _, talk_id = await talks.schedule_talk(repo=world.cases, case_id="case-c-1", version=2,
                                           scheduled_for=world.now() + timedelta(hours=2), place="谈心室",
                                           participants=[], staff_ids=[], by=worker, trace=world.trace)
    repo = CutIn(world)
    assert await targets.send_talk_reminders(repo=repo, feed=world.feed, now=world.now(), lead=timedelta(hours=3),
                                             webhook=False) == [talk_id]
    doc = world.docs("cases")["case-c-1"]
    assert (doc["version"], doc["reply_count"]) == (4, 1), "the other writer's change survives"
    assert doc["talks"][talk_id]["reminded_for"] is not None
    assert [n["kind"] for n in world.rows("notifications")].count("talk_reminder") == 1
