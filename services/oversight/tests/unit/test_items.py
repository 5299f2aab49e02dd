"""The oversight item aggregate: public statuses, summaries, recorded events, versions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tongpin.oversight.domain.items import (
    ALLOWED_TRANSITIONS,
    STATUSES,
    IllegalStatusChange,
    InvalidSummary,
    OversightItem,
    item_id_for,
    opens_item,
)
from tongpin.shared import events

pytestmark = pytest.mark.unit

T0 = datetime(2026, 3, 5, 2, tzinfo=UTC)
SUMMARY = "经核实，该民警住房困难属实，局党委已协调周转房一套。🏠"


def _item() -> OversightItem:
    return OversightItem.open(
        item_id="i1", concern_id="c1", channel_kind="supervision", category="conduct", unit="U02", at=T0
    )


def test_open_records_the_opened_event() -> None:
    item = _item()
    assert (item.status, item.version, item.public_summary) == ("received", 1, None)
    (opened,) = item.take_events()
    assert isinstance(opened, events.OversightItemOpened)
    assert (opened.item_id, opened.unit, opened.status, opened.opened_at) == ("i1", "U02", "received", T0)
    assert item.pending_events == []


def test_happy_path_to_resolved() -> None:
    item = _item()
    item.take_events()
    item.change_status(to="under_review", at=T0 + timedelta(hours=1))
    item.change_status(to="in_progress", at=T0 + timedelta(days=1))
    item.change_status(to="resolved", at=T0 + timedelta(days=3), public_summary=SUMMARY)
    assert (item.status, item.version, item.public_summary) == ("resolved", 4, SUMMARY)
    assert item.closed and item.closed_at == T0 + timedelta(days=3)
    recorded = item.take_events()
    assert [e.event_type for e in recorded] == [
        "oversight.item.updated", "oversight.item.updated", "oversight.item.closed",
    ]
    closed = recorded[-1]
    assert isinstance(closed, events.OversightItemClosed) and closed.status == "resolved"
    # Events never carry the summary.
    assert all(SUMMARY not in e.model_dump_json() for e in recorded)


def test_not_substantiated_straight_from_received() -> None:
    item = _item()
    item.change_status(to="not_substantiated", at=T0, public_summary="经调查，反映情况不属实。")
    assert item.status == "not_substantiated" and item.version == 2


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        ([], "resolved"),
        ([], "received"),
        (["under_review"], "under_review"),
        (["under_review", "in_progress"], "not_substantiated"),
        (["under_review", "resolved"], "in_progress"),
        (["not_substantiated"], "under_review"),
    ],
)
def test_illegal_changes_are_refused_and_change_nothing(path: list[str], illegal: str) -> None:
    item = _item()
    for status in path:
        item.change_status(to=status, at=T0, public_summary=SUMMARY)
    version, status = item.version, item.status
    with pytest.raises(IllegalStatusChange) as caught:
        item.change_status(to=illegal, at=T0, public_summary=SUMMARY)
    assert (caught.value.current, caught.value.requested) == (status, illegal)
    assert (item.version, item.status) == (version, status)


def test_transition_table_covers_every_status_and_finals_are_final() -> None:
    assert set(ALLOWED_TRANSITIONS) == set(STATUSES)
    assert ALLOWED_TRANSITIONS["resolved"] == ALLOWED_TRANSITIONS["not_substantiated"] == frozenset()


@pytest.mark.parametrize("summary", [None, "", "   ", "字" * 1001])
def test_closing_needs_a_valid_summary(summary: str | None) -> None:
    item = _item()
    item.change_status(to="under_review", at=T0)
    with pytest.raises(InvalidSummary):
        item.change_status(to="resolved", at=T0, public_summary=summary)
    assert item.status == "under_review" and item.version == 2 and len(item.pending_events) == 2


def test_summary_limits_and_earlier_summary_counts() -> None:
    item = _item()
    item.write_summary(text="字" * 1000, at=T0)
    assert item.version == 2 and len(item.pending_events) == 1  # a summary causes no event
    item.change_status(to="under_review", at=T0)
    item.change_status(to="resolved", at=T0)  # the summary written earlier is used
    assert item.public_summary == "字" * 1000
    with pytest.raises(InvalidSummary):
        item.write_summary(text="改写", at=T0)


def test_document_round_trip_and_public_view() -> None:
    item = _item()
    item.change_status(to="under_review", at=T0, public_summary=SUMMARY)
    doc = item.to_document()
    assert doc["_id"] == "i1" and doc["version"] == 2 and "pending_events" not in doc
    again = OversightItem.from_document(doc)
    assert again.to_document() == doc and again.pending_events == []
    view = item.public_view()
    assert view["public_summary"] == SUMMARY and "unit" not in view and "concern_id" not in view
    with pytest.raises(ValueError):
        OversightItem.from_document({**doc, "status": "lost"})


def test_item_from_triage_decision() -> None:
    decision = events.ConcernTriaged(
        concern_id="c-77", channel_id="ch-s", channel_kind="supervision", category="conduct", severity="high",
        route="oversight", ruleset_version=2, triaged_at=T0,
    )
    assert opens_item(decision)
    assert not opens_item(decision.model_copy(update={"route": "answer_online"}))
    assert not opens_item(decision.model_copy(update={"channel_kind": "officers"}))
    item = OversightItem.from_decision(decision)
    assert item.item_id == item_id_for("c-77") == item_id_for("c-77")
    assert item.item_id != item_id_for("c-78")
    assert item.take_events()[0].model_dump()["item_id"] == item.item_id
    assert len(item_id_for("x" * 128)) <= 128
