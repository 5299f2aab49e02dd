"""Offline talks live in the case: booked, moved, called off, held, and reminded of once per booked time."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tongpin.counselling.handlers import talks, targets
from tongpin.shared.problems import Conflict, Invalid, NotFound

pytestmark = pytest.mark.unit


async def _booked(world, *, hours: float = 48) -> tuple[str, object]:
    worker = await world.add_staff("pw-1", "political_worker")
    await world.open_case("c-1", assignee_id="pw-1")
    _, talk_id = await talks.schedule_talk(
        repo=world.cases, case_id="case-c-1", version=2, scheduled_for=world.now() + timedelta(hours=hours),
        place="二楼谈心室", participants=["officer-1"], staff_ids=["pw-2"], by=worker, trace=world.trace)
    return talk_id, worker


async def test_a_booked_talk_is_stored_as_it_always_was(world) -> None:
    talk_id, _ = await _booked(world)
    doc = await world.cases.get_case("case-c-1")
    assert doc["talks"] == {talk_id: {
        "talk_id": talk_id, "scheduled_for": world.now() + timedelta(hours=48), "place": "二楼谈心室",
        "participants": ["officer-1"], "staff_ids": ["pw-2"], "status": "scheduled", "scheduled_by": "pw-1",
        "scheduled_at": world.now(), "reminded_for": None}}
    assert (doc["state"], doc["pending_talk_id"]) == ("talk_scheduled", talk_id)
    assert world.event_types()[-1] == "talk.scheduled"


async def test_a_talk_in_the_past_is_a_422(world) -> None:
    worker = await world.add_staff("pw-1", "political_worker")
    await world.open_case("c-1")
    with pytest.raises(Invalid):
        await talks.schedule_talk(repo=world.cases, case_id="case-c-1", version=1, scheduled_for=world.now(),
                                  place="x", participants=[], staff_ids=[], by=worker, trace=world.trace)


async def test_moving_a_talk_books_it_again_and_changing_the_place_records_no_event(world) -> None:
    talk_id, _ = await _booked(world)
    new_time = world.now() + timedelta(hours=72)
    mutation = await talks.reschedule_talk(repo=world.cases, case_id="case-c-1", talk_id=talk_id, version=3,
                                           scheduled_for=new_time, place=None, participants=None, staff_ids=None,
                                           trace=world.trace)
    assert [e.type for e in mutation.events] == ["talk.scheduled.v1"]
    mutation = await talks.reschedule_talk(repo=world.cases, case_id="case-c-1", talk_id=talk_id, version=5,
                                           scheduled_for=None, place="三楼", participants=["officer-1", "家属"],
                                           staff_ids=None, trace=world.trace)
    assert mutation.events == [] and mutation.case.version == 6
    doc = await world.cases.get_case("case-c-1")
    talk = doc["talks"][talk_id]
    assert (talk["scheduled_for"], talk["place"], talk["participants"], talk["status"]) == (
        new_time, "三楼", ["officer-1", "家属"], "scheduled")
    assert talk["scheduled_at"] < world.now() + timedelta(seconds=1) and "cancelled_at" not in talk
    assert (doc["state"], doc["pending_talk_for"]) == ("talk_scheduled", new_time)


async def test_an_unknown_talk_is_a_404_and_one_not_pending_a_409(world) -> None:
    talk_id, _ = await _booked(world)
    with pytest.raises(NotFound):
        await talks.cancel_talk(repo=world.cases, case_id="case-c-1", talk_id="talk-nope", version=3,
                                reason_code=None, trace=world.trace)
    await talks.cancel_talk(repo=world.cases, case_id="case-c-1", talk_id=talk_id, version=3,
                            reason_code="subject_unavailable", trace=world.trace)
    with pytest.raises(Conflict):
        await talks.reschedule_talk(repo=world.cases, case_id="case-c-1", talk_id=talk_id, version=4,
                                    scheduled_for=None, place="x", participants=None, staff_ids=None,
                                    trace=world.trace)


async def test_a_cancelled_talk_says_when_and_why_and_the_case_goes_back(world) -> None:
    talk_id, _ = await _booked(world)
    await talks.cancel_talk(repo=world.cases, case_id="case-c-1", talk_id=talk_id, version=3,
                            reason_code="subject_unavailable", trace=world.trace)
    doc = await world.cases.get_case("case-c-1")
    talk = doc["talks"][talk_id]
    assert (talk["status"], talk["cancelled_at"], talk["reason_code"]) == (
        "cancelled", world.now(), "subject_unavailable")
    assert (doc["state"], doc["pending_talk_id"]) == ("open", None)


async def test_a_held_talk_says_how_it_went_and_lets_the_case_resolve_offline(world) -> None:
    talk_id, _ = await _booked(world)
    world.later(hours=49)
    mutation = await talks.record_talk_held(repo=world.cases, case_id="case-c-1", talk_id=talk_id, version=3,
                                            outcome_code="plan_agreed", trace=world.trace)
    assert mutation.events[0].type == "talk.held.v1" and mutation.events[0].data["outcome_code"] == "plan_agreed"
    talk = (await world.cases.get_case("case-c-1"))["talks"][talk_id]
    assert (talk["status"], talk["held_at"], talk["outcome_code"]) == ("held", world.now(), "plan_agreed")
    assert mutation.case.talks[talk_id].status == "held", "the domain model holds the same truth"


async def test_reminders_go_once_per_booked_time_and_again_after_a_move(world) -> None:
    talk_id, _ = await _booked(world, hours=2)
    lead = timedelta(hours=3)

    async def remind() -> list[str]:
        return await targets.send_talk_reminders(repo=world.cases, feed=world.feed, now=world.now(), lead=lead,
                                                 webhook=False)

    assert await remind() == [talk_id]
    assert await remind() == []
    assert sorted(n["staff_id"] for n in world.rows("notifications") if n["kind"] == "talk_reminder") == [
        "pw-1", "pw-2"]
    doc = await world.cases.get_case("case-c-1")
    assert doc["version"] == 3, "a reminder is bookkeeping, not a new version"
    await talks.reschedule_talk(repo=world.cases, case_id="case-c-1", talk_id=talk_id, version=3,
                                scheduled_for=world.now() + timedelta(hours=1), place=None, participants=None,
                                staff_ids=None, trace=world.trace)
    assert await remind() == [talk_id]
