"""Case commands a person gives: assign, reply, resolve, reopen, feedback."""

from __future__ import annotations

import pytest

from tongpin.counselling.handlers import cases
from tongpin.shared.problems import Conflict, Invalid

pytestmark = pytest.mark.unit


async def test_assigning_to_an_active_case_worker_tells_them(world) -> None:
    coordinator = await world.add_staff("coord-1", "centre_coordinator")
    await world.add_staff("psy-1", "psychologist")
    await world.open_case("c-1")
    mutation = await cases.assign_case(repo=world.cases, staff=world.staff, feed=world.feed, case_id="case-c-1",
                                       version=1, assignee_id="psy-1", by=coordinator, trace=world.trace,
                                       webhook=True)
    doc = await world.cases.get_case("case-c-1")
    assert (doc["assignee_id"], doc["assignee_role"], doc["version"]) == ("psy-1", "psychologist", 2)
    assert mutation.events[0].type == "case.assigned.v1" and mutation.events[0].data["assigned_by"] == "coord-1"
    [note] = await world.feed_of("psy-1")
    assert note["kind"] == "assignment" and world.docs("notifications")[note["_id"]]["webhook_pending"] is True


@pytest.mark.parametrize("who", ["aud-1", "gone-1", "nobody"])
async def test_assigning_to_anyone_else_is_a_422_and_changes_nothing(world, who: str) -> None:
    coordinator = await world.add_staff("coord-1", "centre_coordinator")
    await world.add_staff("aud-1", "auditor")
    await world.add_staff("gone-1", "political_worker", active=False)
    await world.open_case("c-1")
    with pytest.raises(Invalid):
        await cases.assign_case(repo=world.cases, staff=world.staff, feed=world.feed, case_id="case-c-1", version=1,
                                assignee_id=who, by=coordinator, trace=world.trace, webhook=False)
    assert (await world.cases.get_case("case-c-1"))["version"] == 1


async def test_a_reply_goes_to_the_concerns_channel_with_its_text_and_moves_the_case_into_dialogue(world) -> None:
    worker = await world.add_staff("pw-1", "political_worker")
    await world.open_case("c-1", assignee_id="pw-1")
    mutation, reply_id = await cases.reply(repo=world.cases, case_id="case-c-1", version=2, text="我们来帮你想办法。",
                                           channel_id=None, by=worker, trace=world.trace)
    doc = await world.cases.get_case("case-c-1")
    assert doc["state"] == "in_dialogue" and doc["first_response_at"] == world.now()
    assert doc["dialogue"] == [{"reply_id": reply_id, "staff_id": "pw-1", "staff_name": "name pw-1",
                                "text": "我们来帮你想办法。", "channel_id": "ch-officers", "at": world.now()}]
    replied, requested = mutation.events
    assert replied.type == "case.replied.v1" and replied.data["first_response"] is True
    assert requested.type == "reply.requested.v1"
    assert (requested.data["text"], requested.data["channel_id"], requested.data["concern_id"]) == (
        "我们来帮你想办法。", "ch-officers", "c-1")
    assert requested.correlationid == "corr-1"


async def test_a_reply_to_a_channel_no_concern_came_from_is_a_422(world) -> None:
    worker = await world.add_staff("pw-1", "political_worker")
    await world.open_case("c-1")
    with pytest.raises(Invalid, match="ch-officers"):
        await cases.reply(repo=world.cases, case_id="case-c-1", version=1, text="hi", channel_id="ch-families",
                          by=worker, trace=world.trace)
    assert (await world.cases.get_case("case-c-1"))["dialogue"] == []


async def test_resolving_needs_its_evidence_then_reopening_clears_it(world) -> None:
    await world.open_case("c-1")
    worker = await world.add_staff("pw-1", "political_worker")
    with pytest.raises(Conflict, match="cannot resolve a case in state open"):
        await cases.resolve_case(repo=world.cases, case_id="case-c-1", version=1, method="answered_online",
                                 outcome_code="question_answered", trace=world.trace)
    await cases.reply(repo=world.cases, case_id="case-c-1", version=1, text="好的", channel_id=None, by=worker,
                      trace=world.trace)
    await world.cases.flag("case-c-1", {"overdue": True})
    world.later(hours=1)
    mutation = await cases.resolve_case(repo=world.cases, case_id="case-c-1", version=2, method="answered_online",
                                        outcome_code="question_answered", trace=world.trace)
    resolved = mutation.events[0]
    assert resolved.type == "case.resolved.v1"
    assert (resolved.data["method"], resolved.data["first_response_met"], resolved.data["resolution_met"]) == (
        "answered_online", True, True)
    doc = await world.cases.get_case("case-c-1")
    assert (doc["state"], doc["overdue"]) == ("resolved", False)
    await cases.reopen_case(repo=world.cases, case_id="case-c-1", version=3, reason_code="problem_recurred",
                            trace=world.trace)
    doc = await world.cases.get_case("case-c-1")
    assert (doc["state"], doc["reopen_count"], doc["resolution_method"]) == ("reopened", 1, None)
    assert world.event_types()[-1] == "case.reopened"


async def test_feedback_is_kept_and_moves_the_version_without_an_event(world) -> None:
    await world.open_case("c-1")
    worker = await world.add_staff("pw-1", "political_worker")
    mutation = await cases.record_feedback(repo=world.cases, case_id="case-c-1", version=1, rating=5,
                                           comment="谢谢！", by=worker, trace=world.trace)
    assert mutation.events == [] and mutation.case.version == 2
    [entry] = (await world.cases.get_case("case-c-1"))["feedback"]
    assert (entry["rating"], entry["comment"], entry["recorded_by"]) == (5, "谢谢！", "pw-1")
