"""The reading list on in-memory repositories: triage's decisions list messages, staff read them, targets pass."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tongpin.intake.domain.reading import ReadingTargets
from tongpin.intake.handlers import reading
from tongpin.intake.handlers.messages import accept_message
from tongpin.intake.memory import IntakeStores
from tongpin.shared.auth import Principal
from tongpin.shared.events import ConcernTriaged
from tongpin.shared.problems import NotFound
from tongpin.shared.testing.memory import staged_events

pytestmark = pytest.mark.unit

TARGETS = ReadingTargets(crisis_minutes=5, high_minutes=30, working_days=1)
RECEIVED = datetime(2026, 3, 9, 9, 30, tzinfo=UTC)  # a Monday (17:30 in Shanghai)
WORKER = Principal(subject="s-wang", roles=frozenset({"political_worker"}), name="王老师")


def _decision(**overrides: Any) -> ConcernTriaged:
    return ConcernTriaged.model_validate({
        "concern_id": "c-1", "channel_id": "officers-01", "channel_kind": "officers", "unit": "unit-01",
        "category": "housing", "severity": "medium", "route": "answer_online", "ruleset_version": 1,
        "triaged_at": RECEIVED + timedelta(seconds=2), "raised_at": RECEIVED, **overrides})


async def _listed(stores: IntakeStores, **overrides: Any) -> dict[str, Any]:
    await accept_message(repo=stores.messages, channel_id="officers-01", channel_kind="officers",
                         source_message_id="wx-1", text="住房困难", sent_at=RECEIVED, author_member_id=None,
                         correlation_id=None, traceparent=None, concern_id="c-1")
    await reading.record_decision(reading=stores.reading, messages=stores.messages, targets=TARGETS,
                                  decision=_decision(**overrides))
    entry = await stores.reading.get("c-1")
    assert entry is not None
    return entry


async def test_a_judged_message_is_listed_with_its_target_and_chatter_is_not(
    stores: IntakeStores, business_clock: Any
) -> None:
    entry = await _listed(stores)
    assert (entry["status"], entry["target"], entry["unit"]) == ("unread", "working_day", "unit-01")
    assert entry["due_at"] > entry["received_at"]
    await reading.record_decision(reading=stores.reading, messages=stores.messages, targets=TARGETS,
                                  decision=_decision(concern_id="c-2", dismissed=True, route="dismiss"))
    assert await stores.reading.get("c-2") is None


async def test_an_override_to_crisis_brings_the_target_forward_and_a_late_older_decision_changes_nothing(
    stores: IntakeStores, business_clock: Any
) -> None:
    await _listed(stores)
    later = RECEIVED + timedelta(minutes=1)
    await reading.record_decision(reading=stores.reading, messages=stores.messages, targets=TARGETS,
                                  decision=_decision(severity="critical", crisis=True, overridden=True,
                                                     triaged_at=later))
    entry = await stores.reading.get("c-1")
    assert entry is not None and entry["target"] == "crisis" and entry["due_at"] == RECEIVED + timedelta(minutes=5)
    await reading.record_decision(reading=stores.reading, messages=stores.messages, targets=TARGETS,
                                  decision=_decision(triaged_at=RECEIVED + timedelta(seconds=30)))
    assert (await stores.reading.get("c-1") or {})["target"] == "crisis"
    await reading.record_decision(reading=stores.reading, messages=stores.messages, targets=TARGETS,
                                  decision=_decision(dismissed=True, route="dismiss",
                                                     triaged_at=later + timedelta(minutes=1)))
    assert (await stores.reading.get("c-1") or {})["status"] == "withdrawn"
    with pytest.raises(NotFound):
        await reading.mark_read(reading=stores.reading, concern_id="c-1", principal=WORKER, now=later)


async def test_the_first_read_settles_the_target_once_and_announces_it(
    stores: IntakeStores, business_clock: Any
) -> None:
    entry = await _listed(stores, severity="high")
    read_at = entry["due_at"] - timedelta(minutes=1)
    read = await reading.mark_read(reading=stores.reading, concern_id="c-1", principal=WORKER, now=read_at)
    again = await reading.mark_read(reading=stores.reading, concern_id="c-1", principal=WORKER, now=read_at)
    other = Principal(subject="s-li", roles=frozenset({"psychologist"}), name="李老师")
    late = await reading.mark_read(reading=stores.reading, concern_id="c-1", principal=other,
                                   now=read_at + timedelta(hours=3))
    assert read["within_target"] is True and again["reads"] == read["reads"]
    assert [r["staff_id"] for r in late["reads"]] == ["s-wang", "s-li"] and late["first_read_by"] == "s-wang"
    (announced,) = staged_events(stores.db, event_type="concern.read")
    assert (announced.data["within_target"], announced.data["target"]) == (True, "high")
    assert "住房" not in announced.model_dump_json()


async def test_an_unread_message_past_its_target_is_announced_once(stores: IntakeStores, business_clock: Any) -> None:
    entry = await _listed(stores, severity="critical", crisis=True)
    assert await reading.flag_overdue(reading=stores.reading, now=entry["due_at"] - timedelta(seconds=1)) == 0
    assert await reading.flag_overdue(reading=stores.reading, now=entry["due_at"] + timedelta(seconds=1)) == 1
    assert await reading.flag_overdue(reading=stores.reading, now=entry["due_at"] + timedelta(minutes=9)) == 0
    (overdue,) = staged_events(stores.db, event_type="concern.reading_overdue")
    assert (overdue.subject, overdue.data["target"]) == ("c-1", "crisis")
