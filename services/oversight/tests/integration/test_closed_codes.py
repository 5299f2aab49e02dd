"""Outcome, decision and reason codes are closed lists: an event with a code off its list never reaches the ledger."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from tongpin.shared import events
from tongpin.shared.envelope import CloudEvent
from tongpin.shared.testing.services import eventually, running

pytestmark = pytest.mark.integration


def at(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 2, tzinfo=UTC)


def with_code(event: CloudEvent, field: str, code: str) -> CloudEvent:
    """A copy of the envelope (new id) with a code its list does not hold, as a stray publisher would send."""
    return event.model_copy(update={"id": str(uuid.uuid4()), "data": {**event.data, field: code}})


async def _ledger_has(ledger: Any, ids: list[str]) -> bool:
    return await ledger.count_documents({"_id": {"$in": ids}}) == len(ids)


async def test_an_event_with_a_code_off_its_list_is_dead_lettered_and_never_appended(
    oversight_app, publish, mongo_client, clean_run, signing_key
):
    case = {"case_id": "case-codes", "unit": "u-1"}
    database = mongo_client[f"{clean_run}_oversight"]
    ledger, dead = database["ledger"], database["dead_letters"]
    async with running(oversight_app()) as client:
        opened = await publish(events.CaseOpened(concern_id="c-codes", channel_kind="officers", category="housing",
                                                 severity="low", opened_at=at(5, 1), **case))
        escalated = await publish(events.CaseEscalated(escalation_id="e-codes", category="housing",
                                                       escalated_at=at(5, 2), **case))
        await eventually(lambda: _ledger_has(ledger, [opened.id, escalated.id]), timeout=15)
        before = (await client.get("/statistics", params={"period": "2026"},
                                   headers=signing_key.headers("auditor"))).json()

        valid = {
            "talk.held.v1": events.make_event(events.TalkHeld(talk_id="t-1", outcome_code="plan_agreed",
                                                              held_at=at(5, 3), **case)),
            "escalation.decided.v1": events.make_event(events.EscalationDecided(
                escalation_id="e-codes", decision_code="housing_arranged", decided_at=at(5, 4), **case)),
            "case.resolved.v1": events.make_event(events.CaseResolved(
                method="by_committee", outcome_code="committee_decision_carried_out", channel_kind="officers",
                category="housing", severity="low", opened_at=at(5, 1), resolved_at=at(5, 5), **case)),
            "case.reopened.v1": events.make_event(events.CaseReopened(reason_code="problem_recurred",
                                                                      reopened_at=at(5, 6), **case)),
        }
        # Code-shaped words (pinyin, English) that the old free-form pattern let through.
        off_list = [
            with_code(valid["talk.held.v1"], "outcome_code", "tanhua_wancheng"),
            with_code(valid["escalation.decided.v1"], "decision_code", "lend_flat"),
            with_code(valid["case.resolved.v1"], "outcome_code", "jiejue_le"),
            with_code(valid["case.reopened.v1"], "reason_code", "again"),
        ]
        for event in off_list:
            await publish(event)
        await eventually(lambda: _dead_count(dead, 4), timeout=20)

        parked = {d["event_id"]: d async for d in dead.find()}
        assert set(parked) == {e.id for e in off_list}
        fields = ("outcome_code", "decision_code", "outcome_code", "reason_code")
        for event, field in zip(off_list, fields, strict=True):
            assert parked[event.id]["reason"] == "bad_data" and parked[event.id]["routing_key"] == event.type
            assert field in parked[event.id]["error"]
        assert await ledger.count_documents({"_id": {"$in": [e.id for e in off_list]}}) == 0
        assert await database["rejected"].count_documents({"_id": {"$in": [e.id for e in off_list]}}) == 0
        after = (await client.get("/statistics", params={"period": "2026"},
                                  headers=signing_key.headers("auditor"))).json()
        assert after == before

        # The same events with their listed codes are appended, in order, after the refused ones.
        for event in valid.values():
            await publish(event)
        await eventually(lambda: _ledger_has(ledger, [e.id for e in valid.values()]), timeout=20)
        decided = await ledger.find_one({"_id": valid["escalation.decided.v1"].id})
        assert decided["entry"]["data"]["decision_code"] == "housing_arranged"
        assert await dead.count_documents({}) == 4


async def _dead_count(dead: Any, expected: int) -> bool:
    return await dead.count_documents({}) >= expected
