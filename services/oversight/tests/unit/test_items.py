"""The oversight item aggregate: public statuses, summaries, recorded events, versions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tongpin.oversight.domain.items import (
    ALLOWED_TRANSITIONS,
    CASE_REOPENED,
    CASE_RESOLVED,
    FOLLOWS,
    STATUSES,
    WORK_STARTED,
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
        (["under_review", "in_progress"], "received"),
        (["under_review", "resolved"], "in_progress"),
        (["under_review", "resolved"], "reopened"),
        (["not_substantiated"], "under_review"),
        ([], "reopened"),
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
    assert caught.value.allowed == ALLOWED_TRANSITIONS[status]


def test_a_refusal_names_the_changes_allowed() -> None:
    with pytest.raises(IllegalStatusChange) as caught:
        _item().change_status(to="resolved", at=T0, public_summary=SUMMARY)
    assert str(caught.value) == ("cannot change status from received to resolved; from received the allowed "
                                 "changes are: under_review, in_progress, not_substantiated")
    item = _item()
    item.change_status(to="not_substantiated", at=T0, public_summary=SUMMARY)
    with pytest.raises(IllegalStatusChange, match="none \\(it is final\\)"):
        item.change_status(to="in_progress", at=T0)


def test_transition_table_covers_every_status_and_not_substantiated_is_final() -> None:
    assert set(ALLOWED_TRANSITIONS) == set(STATUSES)
    assert ALLOWED_TRANSITIONS["not_substantiated"] == ()
    assert ALLOWED_TRANSITIONS["resolved"] == ("not_substantiated",)
    assert "reopened" not in {to for allowed in ALLOWED_TRANSITIONS.values() for to in allowed}


def test_the_item_follows_its_case_at_the_times_the_case_moved() -> None:
    item = _item()
    item.take_events()
    started, done, again = T0 + timedelta(hours=5), T0 + timedelta(days=4), T0 + timedelta(days=9)
    assert item.follow_case(WORK_STARTED, at=started)
    assert not item.follow_case(WORK_STARTED, at=started + timedelta(hours=1))  # already in progress
    assert item.follow_case(CASE_RESOLVED, at=done)
    assert (item.status, item.closed_at, item.public_summary) == ("resolved", done, None)
    assert not item.follow_case(CASE_RESOLVED, at=done)  # a redelivery moves nothing
    assert item.follow_case(CASE_REOPENED, at=again)
    assert (item.status, item.closed_at) == ("reopened", None)
    recorded = item.take_events()
    assert [(e.event_type, e.model_dump().get("status")) for e in recorded] == [
        ("oversight.item.updated", "in_progress"), ("oversight.item.closed", "resolved"),
        ("oversight.item.updated", "reopened"),
    ]
    assert [e.model_dump().get("changed_at") or e.model_dump().get("closed_at") for e in recorded] == [
        started, done, again]
    assert all(e.model_dump()["unit"] == "U02" for e in recorded)


def test_staff_still_add_the_summary_or_find_it_not_substantiated_after_the_case_closed_it() -> None:
    item = _item()
    item.follow_case(CASE_RESOLVED, at=T0)
    item.write_summary(text=SUMMARY, at=T0)
    assert item.public_summary == SUMMARY
    with pytest.raises(InvalidSummary):
        item.write_summary(text="改写", at=T0)
    item.change_status(to="not_substantiated", at=T0)
    assert item.status == "not_substantiated"
    assert not item.follow_case(CASE_REOPENED, at=T0)  # staff's finding stands


def test_follow_table_never_leaves_a_final_status_except_by_reopening() -> None:
    for change, (sources, _to) in FOLLOWS.items():
        assert "not_substantiated" not in sources, change
        assert ("resolved" in sources) == (change == CASE_REOPENED)


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


def test_the_item_state_machine_is_in_the_api_documentation() -> None:
    """PATCH /items/{item_id} documents every status, the changes staff may make from it and what the case does,
    and says that a refused change answers with the allowed ones."""
    from tongpin.oversight.app import create_app
    from tongpin.oversight.settings import OversightSettings

    patch = create_app(OversightSettings()).openapi()["paths"]["/items/{item_id}"]["patch"]
    text = patch["description"]
    assert "`allowed`" in text and "409" in text
    rows = {line.split("|")[1].strip(" `"): line for line in text.splitlines() if line.startswith("| `")}
    assert set(rows) == set(STATUSES)
    for status, allowed in ALLOWED_TRANSITIONS.items():
        cells = rows[status].split("|")
        assert [s.strip(" `") for s in cells[2].split(",") if s.strip(" `") != "(final)"] == list(allowed), status
        following = {part.split("→")[1].strip() for part in cells[3].split(";") if "→" in part}
        assert following == {to for sources, to in FOLLOWS.values() if status in sources}, status
