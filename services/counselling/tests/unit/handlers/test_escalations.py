"""Escalation to the committee: material, decision, completion, the board, and decisions past their deadline."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tongpin.counselling.domain.escalation import EscalationMaterial
from tongpin.counselling.handlers import escalations, targets
from tongpin.shared.problems import Conflict, Invalid, NotFound

pytestmark = pytest.mark.unit

MATERIAL = EscalationMaterial(subject="住房困难", background="民警因无住房无法结婚。", actions_taken="已线下约谈两次。",
                              decision_requested="请党委协调闲置公寓。")


async def _escalated(world) -> tuple[str, object]:
    await world.add_staff("pw-1", "political_worker")
    committee = await world.add_staff("cm-1", "committee_member")
    await world.add_staff("cm-2", "committee_member")
    worker = await world.add_staff("pw-1b", "political_worker")
    await world.open_case("c-1", assignee_id="pw-1")
    _, escalation_id = await escalations.escalate(
        repo=world.cases, staff=world.staff, feed=world.feed, case_id="case-c-1", version=2, material=MATERIAL,
        by=worker, trace=world.trace, webhook=False)
    return escalation_id, committee


async def test_escalating_puts_the_material_before_every_committee_member(world) -> None:
    escalation_id, _ = await _escalated(world)
    doc, entry = await escalations.escalation_of(repo=world.cases, escalation_id=escalation_id)
    assert doc["state"] == "escalated" and entry["material"]["subject"] == "住房困难"
    assert world.event_types()[-1] == "case.escalated"
    assert [n["kind"] for n in await world.feed_of("cm-1")] == ["escalation"]
    assert [n["kind"] for n in await world.feed_of("cm-2")] == ["escalation"]
    item = escalations.escalation_board_item(case_doc=doc, entry=entry, now=world.now())
    assert (item["status"], item["subject"], item["decision_overdue"]) == ("open", "住房困难", False)
    assert "请党委协调闲置公寓。" in escalations.material_html(case_doc=doc, entry=entry, lang="zh")


async def test_an_unknown_escalation_is_a_404(world) -> None:
    with pytest.raises(NotFound):
        await escalations.escalation_of(repo=world.cases, escalation_id="esc-nope")


async def test_a_decision_is_recorded_and_told_to_the_assignee_and_the_staff_who_act(world) -> None:
    escalation_id, committee = await _escalated(world)
    with pytest.raises(Invalid):
        await escalations.decide(repo=world.cases, feed=world.feed, escalation_id=escalation_id, version=3,
                                 decision_code="housing_arranged", decided="借用闲置公寓", actor_kind="staff",
                                 actor_id="pw-1b", due_by=world.now() - timedelta(days=1), by=committee,
                                 trace=world.trace, webhook=False)
    due = world.now() + timedelta(days=30)
    mutation = await escalations.decide(
        repo=world.cases, feed=world.feed, escalation_id=escalation_id, version=3, decision_code="housing_arranged",
        decided="借用闲置公寓", actor_kind="staff", actor_id="pw-1b", due_by=due, by=committee, trace=world.trace,
        webhook=False)
    [decided] = mutation.events
    assert decided.type == "escalation.decided.v1" and decided.data["decision_code"] == "housing_arranged"
    doc, entry = await escalations.escalation_of(repo=world.cases, escalation_id=escalation_id)
    assert (doc["state"], entry["decision"]["decided"], entry["decision"]["decided_by"]) == (
        "decided", "借用闲置公寓", "cm-1")
    assert [n["kind"] for n in await world.feed_of("pw-1")] == ["assignment", "decision"]
    assert [n["kind"] for n in await world.feed_of("pw-1b")] == ["decision"]
    assert escalations.escalation_board_item(case_doc=doc, entry=entry, now=world.now())["status"] == "decided"


async def test_completion_needs_a_decision_and_clears_the_overdue_flag(world) -> None:
    escalation_id, committee = await _escalated(world)
    with pytest.raises(Conflict, match="no decision yet"):
        await escalations.complete_decision(repo=world.cases, escalation_id=escalation_id, version=3,
                                            trace=world.trace)
    await escalations.decide(repo=world.cases, feed=world.feed, escalation_id=escalation_id, version=3,
                             decision_code="housing_arranged", decided="借用闲置公寓", actor_kind="body",
                             actor_id="housing-office", due_by=world.now() + timedelta(days=1), by=committee,
                             trace=world.trace, webhook=False)
    now = world.later(days=2)
    assert await targets.flag_overdue(repo=world.cases, staff=world.staff, feed=world.feed, now=now,
                                      webhook=False) == ["case-c-1", escalation_id]
    assert await targets.flag_overdue(repo=world.cases, staff=world.staff, feed=world.feed, now=now,
                                      webhook=False) == [], "flagged once"
    assert [n["kind"] for n in await world.feed_of("pw-1")].count("decision_overdue") == 1
    _, entry = await escalations.escalation_of(repo=world.cases, escalation_id=escalation_id)
    assert entry["decision_overdue"] is True
    await escalations.complete_decision(repo=world.cases, escalation_id=escalation_id, version=4, trace=world.trace)
    doc, entry = await escalations.escalation_of(repo=world.cases, escalation_id=escalation_id)
    assert (entry["done_at"], entry["decision_overdue"]) == (now, False)
    assert escalations.escalation_board_item(case_doc=doc, entry=entry, now=now)["status"] == "done"
