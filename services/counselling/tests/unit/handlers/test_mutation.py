"""The case-mutation loop: a concurrent change makes an event handler retry and a person's command a 409."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from tongpin.counselling.handlers import case_opening
from tongpin.counselling.handlers.mutation import mutate_case
from tongpin.counselling.repository import CaseRepository
from tongpin.shared.problems import Conflict, Invalid, NotFound

pytestmark = pytest.mark.unit


class Interleaved(CaseRepository):
    """Between a handler's read and its save, someone else changes the case (`times` times)."""

    def __init__(self, world, *, times: int) -> None:
        super().__init__(cast("AsyncDatabase[Any]", world.db))
        self.stored = world.docs("cases")
        self.times = times
        self.reads = 0

    async def get_case(self, case_id: str) -> dict[str, Any] | None:
        doc = await super().get_case(case_id)
        self.reads += 1
        if doc is not None and self.times > 0:
            self.times -= 1
            stored = self.stored[case_id]
            stored["version"] += 1
            stored["reply_count"] += 1  # the other writer's change, which must survive
        return doc


async def _store_with_case(world, times: int) -> Interleaved:
    await world.open_case("c-1")
    return Interleaved(world, times=times)


async def test_an_event_handler_retries_on_a_concurrent_change_and_keeps_both(world) -> None:
    store = await _store_with_case(world, times=2)
    await case_opening.attach_concern(repo=store, case_id="case-c-1", concern_id="c-2", trace=world.trace)
    doc = await store.get_case("case-c-1")
    assert doc["concern_ids"] == ["c-1", "c-2"], "the handler's change landed"
    assert doc["reply_count"] == 2, "the concurrent changes were not overwritten"
    assert doc["version"] == 1 + 2 + 1
    assert store.reads >= 3 + 1, "read again after each lost race"


async def test_a_case_that_keeps_changing_is_given_up_with_a_409(world) -> None:
    store = await _store_with_case(world, times=100)

    def apply(case, _):
        case.attach_concern(concern_id="c-2", at=world.now())

    with pytest.raises(Conflict, match="keeps changing"):
        await mutate_case(repo=store, case_id="case-c-1", expected_version=None, apply=apply, trace=world.trace)
    assert world.docs("cases")["case-c-1"]["concern_ids"] == ["c-1"]


async def test_a_persons_command_racing_a_change_is_a_409_and_changes_nothing(world) -> None:
    store = await _store_with_case(world, times=1)
    events_before = world.staged()

    def apply(case, _):
        case.record_reply(at=world.now(), reply_id="reply-1")

    with pytest.raises(Conflict, match="changed by someone else"):
        await mutate_case(repo=store, case_id="case-c-1", expected_version=1, apply=apply, trace=world.trace)
    assert world.docs("cases")["case-c-1"]["state"] == "open"
    assert world.staged() == events_before


async def test_a_stale_version_is_a_409_naming_the_current_one(world) -> None:
    await world.open_case("c-1")
    with pytest.raises(Conflict) as refused:
        await mutate_case(repo=world.cases, case_id="case-c-1", expected_version=7, apply=lambda c, d: None,
                          trace=world.trace)
    assert refused.value.extensions["current_version"] == 1


async def test_a_refused_transition_is_a_409_with_the_state_and_nothing_stored(world) -> None:
    await world.open_case("c-1")

    def apply(case, _):
        case.resolve(method="answered_online", outcome_code="question_answered", at=world.now())

    with pytest.raises(Conflict) as refused:
        await mutate_case(repo=world.cases, case_id="case-c-1", expected_version=1, apply=apply, trace=world.trace)
    assert refused.value.extensions["current_state"] == "open"
    assert (await world.cases.get_case("case-c-1"))["version"] == 1
    assert world.event_types() == ["case.opened"]


async def test_a_malformed_code_is_a_422_and_an_unknown_case_a_404(world) -> None:
    await world.open_case("c-1")

    def apply(case, _):
        case.attach_concern(concern_id="not an id!", at=world.now())

    with pytest.raises(Invalid):
        await mutate_case(repo=world.cases, case_id="case-c-1", expected_version=None, apply=apply, trace=world.trace)
    with pytest.raises(NotFound):
        await mutate_case(repo=world.cases, case_id="case-nope", expected_version=None, apply=apply,
                          trace=world.trace)


async def test_a_change_no_event_records_still_moves_the_version(world) -> None:
    await world.open_case("c-1")
    mutation = await mutate_case(repo=world.cases, case_id="case-c-1", expected_version=1,
                                 apply=lambda c, d: {"$push": {"feedback": {"rating": 5}}}, trace=world.trace)
    assert mutation.case.version == 2 and mutation.events == []
    assert (await world.cases.get_case("case-c-1"))["feedback"] == [{"rating": 5}]


async def test_concurrent_event_handlers_on_one_case_all_land(world) -> None:
    await world.open_case("c-1")
    await asyncio.gather(*(case_opening.attach_concern(repo=world.cases, case_id="case-c-1", concern_id=f"c-{n}",
                                                       trace=world.trace) for n in range(2, 7)))
    doc = await world.cases.get_case("case-c-1")
    assert sorted(doc["concern_ids"]) == sorted(f"c-{n}" for n in range(1, 7))
    assert doc["version"] == 6
