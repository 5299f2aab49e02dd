"""A case opens only once both halves of a concern are here, in either order; merges, overrides and crises."""

from __future__ import annotations

import pytest

from tongpin.counselling.handlers import case_opening
from tongpin.shared import events as ev

pytestmark = pytest.mark.unit


async def test_text_then_decision_opens_one_case_with_its_events(world) -> None:
    await world.add_staff("pw-1", "political_worker")
    await world.text_arrives("c-1")
    assert await world.cases.get_case("case-c-1") is None, "text alone opens nothing"
    await world.decision_arrives("c-1", assignee_id="pw-1")
    doc = await world.cases.get_case("case-c-1")
    assert doc["state"] == "open" and doc["assignee_id"] == "pw-1" and doc["concern_ids"] == ["c-1"]
    assert doc["talks"] == {} and doc["dialogue"] == [] and doc["channel_id"] == "ch-officers"
    assert world.event_types() == ["case.opened", "case.assigned"]
    assert all(e.subject == "case-c-1" for e in world.staged())
    assert [n["kind"] for n in await world.feed_of("pw-1")] == ["assignment"]
    assert (await world.cases.get_concern("c-1"))["case_id"] == "case-c-1"


async def test_decision_then_text_opens_the_same_case(world) -> None:
    await world.add_staff("pw-1", "political_worker")
    await world.decision_arrives("c-1", assignee_id="pw-1")
    assert await world.cases.get_case("case-c-1") is None, "a decision alone opens nothing"
    await world.text_arrives("c-1")
    doc = await world.cases.get_case("case-c-1")
    assert doc["assignee_id"] == "pw-1"
    assert world.event_types() == ["case.opened", "case.assigned"]
    concern = await world.cases.get_concern("c-1")
    assert concern["text"] == "我没有住房，没法结婚。", "Chinese text kept unchanged for a concern that became a case"


async def test_either_half_again_opens_nothing_more(world) -> None:
    await world.add_staff("pw-1", "political_worker")
    await world.open_case("c-1", assignee_id="pw-1")
    await world.text_arrives("c-1")
    await world.decision_arrives("c-1", assignee_id="pw-1")
    assert len(world.docs("cases")) == 1
    assert world.event_types() == ["case.opened", "case.assigned"]
    assert len(await world.feed_of("pw-1")) == 1


async def test_a_dismissed_concern_forgets_its_text_and_opens_no_case(world) -> None:
    await world.text_arrives("c-1")
    await world.decision_arrives("c-1", route="dismiss", assignee_role=None)
    assert world.docs("cases") == {}
    assert "text" not in await world.cases.get_concern("c-1")
    assert world.staged() == []


async def test_without_a_named_assignee_the_least_loaded_worker_of_the_role_takes_it(world) -> None:
    await world.add_staff("pw-a", "political_worker")
    await world.add_staff("pw-b", "political_worker")
    await world.add_staff("pw-away", "political_worker", on_leave=True)
    await world.open_case("c-1", assignee_id="pw-a")
    doc = await world.open_case("c-2")
    assert doc["assignee_id"] == "pw-b"


async def test_no_one_to_take_it_leaves_the_case_unassigned(world) -> None:
    doc = await world.open_case("c-1")
    assert doc["assignee_id"] is None
    assert world.event_types() == ["case.opened"]


async def test_a_concern_merged_before_its_primary_opens_joins_the_case_when_it_opens(world) -> None:
    merge = ev.ConcernMerged(concern_id="c-2", primary_concern_id="c-1", about_officer_id="officer-1",
                             merged_at=world.now())
    await case_opening.record_merge(repo=world.cases, event=ev.make_event(merge, subject="c-2"), merge=merge)
    await world.open_case("c-1")
    doc = await world.cases.get_case("case-c-1")
    assert doc["concern_ids"] == ["c-1", "c-2"]
    assert (await world.cases.get_concern("c-2"))["case_id"] == "case-c-1"


async def test_a_concern_merged_after_its_primary_opened_is_attached_once(world) -> None:
    await world.open_case("c-1")
    version = (await world.cases.get_case("case-c-1"))["version"]
    merge = ev.ConcernMerged(concern_id="c-2", primary_concern_id="c-1", about_officer_id="officer-1",
                             merged_at=world.now())
    for _ in range(2):
        await case_opening.record_merge(repo=world.cases, event=ev.make_event(merge, subject="c-2"), merge=merge)
    doc = await world.cases.get_case("case-c-1")
    assert doc["concern_ids"] == ["c-1", "c-2"] and doc["version"] == version + 1
    # Its own halves arriving later attach to the primary's case instead of opening another.
    await world.open_case("c-1")
    await world.text_arrives("c-2")
    await world.decision_arrives("c-2")
    assert set(world.docs("cases")) == {"case-c-1"}


async def test_an_override_moves_the_case_to_the_new_category_severity_and_worker(world) -> None:
    await world.add_staff("pw-1", "political_worker")
    await world.add_staff("psy-1", "psychologist")
    before = await world.open_case("c-1", assignee_id="pw-1")
    await world.decision_arrives("c-1", overridden=True, category="mental_distress", severity="high",
                                 assignee_id="psy-1", assignee_role="psychologist")
    doc = await world.cases.get_case("case-c-1")
    assert (doc["category"], doc["severity"], doc["assignee_id"]) == ("mental_distress", "high", "psy-1")
    assert doc["first_response_due"] < before["first_response_due"], "a higher severity brings the targets closer"
    assert world.event_types()[-1] == "case.assigned"
    assert [n["kind"] for n in await world.feed_of("psy-1")] == ["assignment"]


async def test_an_override_naming_someone_who_cannot_work_cases_keeps_the_assignee(world) -> None:
    await world.add_staff("pw-1", "political_worker")
    await world.add_staff("aud-1", "auditor")
    await world.open_case("c-1", assignee_id="pw-1")
    await world.decision_arrives("c-1", overridden=True, severity="high", assignee_id="aud-1",
                                 assignee_role="political_worker")
    doc = await world.cases.get_case("case-c-1")
    assert doc["assignee_id"] == "pw-1" and doc["severity"] == "high"


def _crisis(world, concern_id: str, *, assignee_id: str | None = None) -> tuple:
    data = ev.EscalationRaised(concern_id=concern_id, channel_id="ch-officers", channel_kind="officers",
                               unit="unit-a", category="mental_distress", severity="critical", flags=["self_harm"],
                               assignee_id=assignee_id, raised_at=world.now())
    return ev.make_event(data, subject=concern_id), data


async def test_a_crisis_opens_the_case_at_once_with_the_on_call_psychologist(world) -> None:
    await world.add_staff("psy-off", "psychologist")
    await world.add_staff("psy-on", "psychologist", on_call=True)
    event, data = _crisis(world, "c-9")
    await case_opening.record_crisis(repo=world.cases, staff=world.staff, feed=world.feed, targets=world.targets,
                                     event=event, crisis=data, webhook=False)
    doc = await world.cases.get_case("case-c-9")
    assert doc["crisis"] is True and doc["assignee_id"] == "psy-on" and doc["route"] == "psych_support"
    assert [n["kind"] for n in await world.feed_of("psy-on")] == ["crisis"]
    # The ordinary halves arriving afterwards change nothing.
    await world.text_arrives("c-9")
    await world.decision_arrives("c-9", route="psych_support", assignee_role="psychologist")
    assert world.event_types() == ["case.opened", "case.assigned"]


async def test_a_crisis_with_no_psychologist_tells_the_coordinators(world) -> None:
    await world.add_staff("coord-1", "centre_coordinator")
    event, data = _crisis(world, "c-9")
    await case_opening.record_crisis(repo=world.cases, staff=world.staff, feed=world.feed, targets=world.targets,
                                     event=event, crisis=data, webhook=False)
    assert (await world.cases.get_case("case-c-9"))["assignee_id"] is None
    assert [n["kind"] for n in await world.feed_of("coord-1")] == ["crisis_unassigned"]


async def test_a_crisis_on_an_open_case_raises_it_and_brings_in_a_psychologist(world) -> None:
    await world.add_staff("pw-1", "political_worker")
    await world.add_staff("psy-on", "psychologist", on_call=True)
    await world.open_case("c-1", assignee_id="pw-1", severity="low")
    event, data = _crisis(world, "c-1")
    for _ in range(2):  # redelivered
        await case_opening.record_crisis(repo=world.cases, staff=world.staff, feed=world.feed,
                                         targets=world.targets, event=event, crisis=data, webhook=False)
    doc = await world.cases.get_case("case-c-1")
    assert (doc["crisis"], doc["severity"], doc["assignee_id"]) == (True, "critical", "psy-on")
    assert world.event_types().count("case.assigned") == 2
    assert [n["kind"] for n in await world.feed_of("psy-on")] == ["crisis"]
