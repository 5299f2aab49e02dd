"""Oversight's appender and handlers on in-memory repositories: facts reversed by later events, figures per unit
and period, repeats, events out of order, items following their cases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tongpin.oversight.appender import DUPLICATE, RECORDED, REJECTED
from tongpin.oversight.domain.periods import parse_period
from tongpin.oversight.handlers.common import NotYet
from tongpin.oversight.handlers.items import change_item
from tongpin.oversight.handlers.ledger import verify_ledger
from tongpin.oversight.handlers.statistics import check_unit, statistics_report
from tongpin.oversight.memory import OversightStores, in_memory
from tongpin.shared import clock, events
from tongpin.shared.problems import Conflict, Invalid
from tongpin.shared.testing.memory import staged_events

pytestmark = pytest.mark.unit

SHANGHAI_MIDDAY = 4  # 04:00 UTC is midday in the bureau's zone: no doubt which local day it is


def at(month: int, day: int, hour: int = SHANGHAI_MIDDAY) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


@pytest.fixture
def stores() -> OversightStores:
    return in_memory()


@pytest.fixture(autouse=True)
def business_clock() -> Iterator[clock.SimulatedClock]:
    with clock.using(clock.SimulatedClock(at(6, 1))) as bound:
        yield bound  # type: ignore[misc]


def triaged(concern_id: str, *, unit: str = "u-1", category: str = "housing", raised: datetime = at(3, 2),
            triaged_at: datetime | None = None, route: str = "answer_online", channel_kind: str = "officers",
            overridden: bool = False) -> events.ConcernTriaged:
    return events.ConcernTriaged.model_validate({
        "concern_id": concern_id, "channel_id": f"{channel_kind}-1", "channel_kind": channel_kind, "unit": unit,
        "category": category, "severity": "medium", "route": route, "ruleset_version": 1,
        "triaged_at": triaged_at or raised, "raised_at": raised, "overridden": overridden})


def opened(case_id: str, concern_id: str, *, unit: str = "u-1", when: datetime = at(3, 3),
           category: str = "housing") -> events.CaseOpened:
    return events.CaseOpened.model_validate({
        "case_id": case_id, "concern_id": concern_id, "channel_kind": "officers", "unit": unit,
        "category": category, "severity": "medium", "opened_at": when})


def resolved(case_id: str, *, when: datetime, unit: str = "u-1", opened_at: datetime = at(3, 3),
             channel_kind: str = "officers") -> events.CaseResolved:
    return events.CaseResolved.model_validate({
        "case_id": case_id, "method": "answered_online", "outcome_code": "question_answered",
        "channel_kind": channel_kind, "unit": unit, "category": "housing", "severity": "medium",
        "opened_at": opened_at, "resolved_at": when})


def reopened(case_id: str, *, when: datetime, unit: str = "u-1") -> events.CaseReopened:
    return events.CaseReopened.model_validate({"case_id": case_id, "reason_code": "problem_recurred", "unit": unit,
                                               "reopened_at": when})


async def record(stores: OversightStores, *data: events.EventData) -> list[str | Exception]:
    """Record events as one batch (each a new delivery)."""
    return await stores.appender().record_batch([(events.make_event(d), d) for d in data])


async def deliver_own_events(stores: OversightStores) -> None:
    """Hand the item events oversight announced back to it, as the broker does (repeats are duplicates)."""
    own = [e for e in staged_events(stores.db) if e.type.startswith("oversight.item.")]
    await stores.appender().record_batch([(e, events.decode_data(e)) for e in own])


async def figures(stores: OversightStores, period: str, unit: str = "u-1") -> dict[str, Any]:
    return await statistics_report(stats=stores.stats, period=parse_period(period), unit=unit, threshold=1)


async def test_a_staff_override_moves_the_concern_and_its_case_to_the_new_category_in_the_month_raised(
    stores: OversightStores
) -> None:
    await record(stores, triaged("c-1"), opened("case-1", "c-1"))
    march = await figures(stores, "2026-03")
    assert march["concerns"]["by_category"]["housing"] == 1 and march["cases"]["opened_by_category"]["housing"] == 1
    # Weeks later staff correct the category: the earlier fact is reversed, not added to.
    assert await record(stores, triaged("c-1", category="career", triaged_at=at(4, 5), overridden=True)) == [RECORDED]
    march = await figures(stores, "2026-03")
    assert (march["concerns"]["total"], march["concerns"]["overridden"]) == (1, 1)
    assert (march["concerns"]["by_category"]["housing"], march["concerns"]["by_category"]["career"]) == (0, 1)
    assert (march["cases"]["opened_by_category"]["housing"], march["cases"]["opened_by_category"]["career"]) == (0, 1)
    assert (await figures(stores, "2026-04"))["concerns"]["total"] == 0


async def test_a_reopening_takes_the_case_out_of_the_month_it_was_resolved_in(stores: OversightStores) -> None:
    await record(stores, triaged("c-1"), opened("case-1", "c-1"), resolved("case-1", when=at(3, 10)))
    assert (await figures(stores, "2026-03"))["cases"]["resolved"]["answered_online"] == 1
    await record(stores, reopened("case-1", when=at(4, 2)))
    march, april = await figures(stores, "2026-03"), await figures(stores, "2026-04")
    assert march["cases"]["resolved"]["total"] == 0
    assert (april["cases"]["reopened"], april["cases"]["resolved"]["total"]) == (1, 0)
    await record(stores, resolved("case-1", when=at(4, 20)))
    march, april = await figures(stores, "2026-03"), await figures(stores, "2026-04")
    assert (march["cases"]["resolved"]["total"], april["cases"]["resolved"]["total"]) == (0, 1)
    assert (await figures(stores, "2026-Q2"))["cases"]["resolved"]["total"] == 1


async def test_figures_are_kept_per_unit_and_month_and_add_up_to_quarters_and_the_bureau(
    stores: OversightStores
) -> None:
    # Out of order: February's concern arrives last, and still counts in February.
    await record(stores, triaged("c-1", unit="u-1", raised=at(1, 15)), triaged("c-2", unit="u-2", raised=at(3, 1)),
                 triaged("c-3", unit="u-1", raised=at(3, 20), category="career"))
    await record(stores, triaged("c-4", unit="u-2", raised=at(2, 10)))
    totals = {(unit, period): (await figures(stores, period, unit))["concerns"]["total"]
              for unit in ("u-1", "u-2", "*") for period in ("2026-01", "2026-02", "2026-03", "2026-Q1", "2026")}
    assert totals == {
        ("u-1", "2026-01"): 1, ("u-1", "2026-02"): 0, ("u-1", "2026-03"): 1, ("u-1", "2026-Q1"): 2, ("u-1", "2026"): 2,
        ("u-2", "2026-01"): 0, ("u-2", "2026-02"): 1, ("u-2", "2026-03"): 1, ("u-2", "2026-Q1"): 2, ("u-2", "2026"): 2,
        ("*", "2026-01"): 1, ("*", "2026-02"): 1, ("*", "2026-03"): 2, ("*", "2026-Q1"): 4, ("*", "2026"): 4,
    }
    assert (await figures(stores, "2026-03", "u-1"))["concerns"]["by_category"]["career"] == 1
    assert await check_unit(stats=stores.stats, unit="u-2") == "u-2"
    with pytest.raises(Invalid):
        await check_unit(stats=stores.stats, unit="u-9")


async def test_small_counts_are_hidden_at_the_threshold(stores: OversightStores) -> None:
    await record(stores, triaged("c-1"), triaged("c-2", category="career"))
    report = await statistics_report(stats=stores.stats, period=parse_period("2026-03"), unit="*",
                                              threshold=3)
    assert report["concerns"]["total"] is None and "concerns.total" in report["suppressed"]


async def test_a_repeated_event_is_recorded_once_and_the_chain_verifies(stores: OversightStores) -> None:
    data = triaged("c-1")
    event = events.make_event(data)
    assert await stores.appender().record_batch([(event, data), (event, data)]) == [RECORDED, DUPLICATE]
    assert await stores.appender().record_batch([(event, data)]) == [DUPLICATE]  # redelivered after a restart
    await record(stores, opened("case-1", "c-1"))
    assert (await figures(stores, "2026-03"))["concerns"]["total"] == 1
    chain = await verify_ledger(ledger=stores.ledger)
    assert (chain["ok"], chain["verified"]) == (True, 2)
    stores.db["ledger"].documents[event.id]["entry"]["type"] = "case.opened.v1"  # an edit after the fact
    broken = await verify_ledger(ledger=stores.ledger)
    assert (broken["ok"], broken["first_broken_seq"]) == (False, 1)


async def test_an_event_about_a_case_not_yet_seen_waits_then_is_rejected_and_counts_nowhere(
    stores: OversightStores
) -> None:
    early = resolved("case-9", when=at(3, 10))
    event = events.make_event(early)
    for _ in range(2):  # max_deferrals: retried through the consumer's back-off
        (outcome,) = await stores.appender().record_batch([(event, early)])
        assert isinstance(outcome, NotYet)
    assert await stores.appender().record_batch([(event, early)]) == [REJECTED]
    (rejected,) = await stores.rejected.page(offset=0, limit=10)
    assert rejected["reason"] == "unknown_case" and rejected["final"] is True
    assert (await figures(stores, "2026-03"))["cases"]["resolved"]["total"] == 0
    assert await stores.ledger.count() == 0


async def test_an_item_follows_its_case_and_staff_move_it_only_as_the_state_machine_allows(
    stores: OversightStores
) -> None:
    await record(stores, triaged("c-1", route="oversight", channel_kind="supervision", category="conduct"))
    (item_opened,) = staged_events(stores.db, event_type="oversight.item.opened")
    item_id = item_opened.data["item_id"]
    await record(stores, opened("case-1", "c-1", category="conduct"))
    await record(stores, resolved("case-1", when=at(3, 12), channel_kind="supervision"))
    await deliver_own_events(stores)
    await deliver_own_events(stores)
    item = await stores.items.get(item_id)
    assert item is not None and item["status"] == "resolved"
    march = await figures(stores, "2026-03")
    assert (march["oversight"]["found"], march["oversight"]["resolved"]) == (1, 1)

    with pytest.raises(Conflict) as refused:
        await change_item(items=stores.items, item_id=item_id, version=item["version"], status="in_progress",
                                   public_summary=None, correlationid=None, traceparent=None)
    assert refused.value.extensions["allowed"] == ["not_substantiated"]
    changed = await change_item(items=stores.items, item_id=item_id, version=item["version"], status=None,
                                         public_summary="经核实，已当面沟通并整改。", correlationid=None,
                                         traceparent=None)
    assert changed["public_summary"] == "经核实，已当面沟通并整改。"
    with pytest.raises(Conflict):  # the version read is stale now
        await change_item(items=stores.items, item_id=item_id, version=item["version"],
                                   status="not_substantiated", public_summary=None, correlationid=None,
                                   traceparent=None)
