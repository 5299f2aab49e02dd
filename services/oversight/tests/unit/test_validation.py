"""Acceptance checks for incoming events: publisher, data, consistency, ordering."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tongpin.oversight.domain.validation import (
    DUPLICATE_CASE,
    INCONSISTENT_TIMES,
    INVALID_DATA,
    MISSING_UNIT,
    OCCURRED_AT_FIELD,
    RETRYABLE,
    TEXT_CARRYING,
    UNKNOWN_CASE,
    UNKNOWN_ESCALATION,
    UNKNOWN_ITEM,
    UNKNOWN_TYPE,
    WRONG_SOURCE,
    occurred_at,
    ordering_reason,
    rejection_reason,
    routing_key_for,
)
from tongpin.shared import events
from tongpin.shared.envelope import CloudEvent

pytestmark = pytest.mark.unit

T0 = datetime(2026, 3, 1, 2, tzinfo=UTC)


def _resolved(**changes: object) -> events.CaseResolved:
    base = events.CaseResolved(
        case_id="C1", method="answered_online", outcome_code="question_answered", channel_kind="officers", unit="U01",
        category="housing", severity="low", opened_at=T0, first_response_at=T0 + timedelta(minutes=5),
        resolved_at=T0 + timedelta(hours=1),
    )
    return base.model_copy(update=changes)


def test_a_good_event_is_accepted() -> None:
    assert rejection_reason(events.make_event(_resolved(), subject="C1")) is None


def test_a_counted_event_without_a_unit_is_refused_with_its_reason() -> None:
    assert rejection_reason(events.make_event(_resolved(unit=None), subject="C1")) == MISSING_UNIT
    joined = events.MemberJoined(member_id="m1", member_kind="officer", channel_id="ch", channel_kind="officers",
                                 joined_at=T0)
    assert rejection_reason(events.make_event(joined)) == MISSING_UNIT
    staff = events.StaffUpdated(staff_id="s1", roles=["auditor"], updated_at=T0)
    assert rejection_reason(events.make_event(staff)) is None  # counts nothing, needs no unit


def test_source_must_be_the_catalogue_publisher() -> None:
    event = events.make_event(_resolved())
    assert rejection_reason(event.model_copy(update={"source": "tongpin/intake"})) == WRONG_SOURCE
    assert rejection_reason(event.model_copy(update={"source": "counselling"})) == WRONG_SOURCE


def test_unknown_and_text_carrying_types_are_refused() -> None:
    event = events.make_event(_resolved())
    assert rejection_reason(event.model_copy(update={"type": "case.vanished.v1"})) == UNKNOWN_TYPE
    assert rejection_reason(event.model_copy(update={"type": "case.resolved"})) == UNKNOWN_TYPE
    raised = events.ConcernRaised(
        concern_id="c1", channel_id="ch", channel_kind="officers", origin="channel", text="不该来这里", sent_at=T0,
    )
    assert rejection_reason(events.make_event(raised)) == TEXT_CARRYING


def test_invalid_data_is_refused() -> None:
    event = events.make_event(_resolved())
    for data in ({**event.data, "method": "shrugged"}, {**event.data, "text": "多余的字"}, {"case_id": "C1"}):
        bad = CloudEvent(source=event.source, type=event.type, data=data)
        assert rejection_reason(bad) == INVALID_DATA

    # Code-shaped words off the closed lists (pinyin, English) are invalid data, whatever the field.
    decided = events.make_event(events.EscalationDecided(escalation_id="E1", case_id="C1", unit="U01",
                                                         decision_code="housing_arranged", decided_at=T0))
    reopened = events.make_event(events.CaseReopened(case_id="C1", unit="U01", reason_code="problem_recurred",
                                                     reopened_at=T0))
    held = events.make_event(events.TalkHeld(talk_id="t1", case_id="C1", unit="U01", outcome_code="plan_agreed",
                                             held_at=T0))
    assert [rejection_reason(e) for e in (event, decided, reopened, held)] == [None] * 4
    for listed, field, word in ((event, "outcome_code", "jiejue_le"), (decided, "decision_code", "lend_flat"),
                                (reopened, "reason_code", "again"), (held, "outcome_code", "tanhua_wancheng")):
        bad = CloudEvent(source=listed.source, type=listed.type, data={**listed.data, field: word})
        assert rejection_reason(bad) == INVALID_DATA, (listed.type, word)


def test_inconsistent_times_are_refused() -> None:
    assert rejection_reason(events.make_event(_resolved(resolved_at=T0 - timedelta(days=1)))) == INCONSISTENT_TIMES
    assert rejection_reason(events.make_event(_resolved(first_response_at=T0 - timedelta(minutes=1)))) == (
        INCONSISTENT_TIMES
    )


def test_ordering_checks() -> None:
    resolved = _resolved()
    assert ordering_reason(resolved, known=set()) == UNKNOWN_CASE
    assert ordering_reason(resolved, known={("case", "C1")}) is None
    opened = events.CaseOpened(case_id="C1", concern_id="c1", channel_kind="officers", category="housing",
                               severity="low", opened_at=T0)
    assert ordering_reason(opened, known=set()) is None
    assert ordering_reason(opened, known={("case", "C1")}) == DUPLICATE_CASE
    decided = events.EscalationDecided(escalation_id="E1", case_id="C1", decision_code="housing_arranged",
                                       decided_at=T0)
    assert ordering_reason(decided, known={("case", "C1")}) == UNKNOWN_ESCALATION
    closed = events.OversightItemClosed(item_id="i1", concern_id="c1", status="resolved", closed_at=T0)
    assert ordering_reason(closed, known={("case", "C1")}) == UNKNOWN_ITEM
    assert {UNKNOWN_CASE, UNKNOWN_ITEM} <= RETRYABLE and DUPLICATE_CASE not in RETRYABLE


def test_routing_keys_and_occurred_at_cover_the_catalogue() -> None:
    assert routing_key_for("case.resolved") == "case.resolved.v1"
    assert routing_key_for("case.resolved.v1") == "case.resolved.v1"
    assert routing_key_for("nope") is None
    assert {cls.event_type for cls in events.CATALOGUE.values()} == set(OCCURRED_AT_FIELD)
    assert occurred_at(_resolved()) == T0 + timedelta(hours=1)


def test_every_catalogue_type_has_an_occurrence_time() -> None:
    from tongpin.oversight.domain.validation import OCCURRED_AT_FIELD
    from tongpin.shared.events import CATALOGUE

    assert {cls.event_type for cls in CATALOGUE.values()} <= set(OCCURRED_AT_FIELD)
