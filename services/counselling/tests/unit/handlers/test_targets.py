"""Time targets: overdue cases flagged once and told to whoever must act; how often targets were met."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tongpin.counselling.handlers import cases, targets

pytestmark = pytest.mark.unit


async def test_a_case_past_its_first_response_target_is_flagged_once_and_its_assignee_told(world) -> None:
    await world.add_staff("pw-1", "political_worker")
    await world.open_case("c-1", assignee_id="pw-1", severity="high")
    now = world.later(hours=1)
    assert await targets.flag_overdue(repo=world.cases, staff=world.staff, feed=world.feed, now=now,
                                      webhook=False) == []
    now = world.later(hours=2)
    assert targets.overdue_now(await world.cases.get_case("case-c-1"), now=now, targets=world.targets)
    assert await targets.flag_overdue(repo=world.cases, staff=world.staff, feed=world.feed, now=now,
                                      webhook=False) == ["case-c-1"]
    assert await targets.flag_overdue(repo=world.cases, staff=world.staff, feed=world.feed, now=now,
                                      webhook=False) == []
    doc = await world.cases.get_case("case-c-1")
    assert (doc["overdue"], doc["overdue_kind"], doc["version"]) == (True, "first_response", 2)
    assert [n["details"]["target"] for n in await world.feed_of("pw-1") if n["kind"] == "overdue"] == [
        "first_response"]


async def test_an_unassigned_overdue_case_is_told_to_the_coordinators(world) -> None:
    await world.add_staff("coord-1", "centre_coordinator")
    await world.open_case("c-1", assignee_role=None, severity="critical")
    now = world.later(minutes=20)
    await targets.flag_overdue(repo=world.cases, staff=world.staff, feed=world.feed, now=now, webhook=False)
    assert [n["kind"] for n in await world.feed_of("coord-1")] == ["overdue"]


async def test_figures_count_targets_met_missed_and_pending_per_severity(world) -> None:
    worker = await world.add_staff("pw-x", "political_worker")
    await world.open_case("c-1", assignee_role=None, severity="high")
    await world.open_case("c-2", assignee_role=None, severity="low")
    world.later(minutes=30)
    await cases.reply(repo=world.cases, case_id="case-c-1", version=1, text="收到", channel_id=None, by=worker,
                      trace=world.trace)
    figures = await targets.sla_figures(repo=world.cases, targets=world.targets, now=world.later(hours=3))
    high, low = figures["by_severity"]["high"], figures["by_severity"]["low"]
    assert (high["cases"], high["first_response"]["met"]) == (1, 1)
    assert (low["cases"], low["first_response"]["pending"]) == (1, 1)
    assert figures["overall"]["cases"] == 2
    assert figures["targets"]["high"]["first_response_seconds"] == timedelta(hours=2).total_seconds()
