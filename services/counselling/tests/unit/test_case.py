"""The Case state machine: every state × every action, the events recorded, and refusals that change nothing."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from tongpin.counselling.domain.case import (
    CASE_STATES,
    Case,
    CaseAssigned,
    CaseEscalated,
    CaseOpened,
    CaseReopened,
    CaseResolved,
    CaseState,
    ConcernAttached,
    EscalationDecided,
    IllegalTransition,
    InvalidValue,
    ReplyRecorded,
    TalkCancelled,
    TalkHeld,
    TalkScheduled,
    WrongReference,
)
from tongpin.counselling.domain.escalation import Decision, EscalationMaterial

pytestmark = pytest.mark.unit

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


MATERIAL = EscalationMaterial(subject="住房困难", background="民警因无住房无法结婚。", actions_taken="已线下约谈两次。",
                              decision_requested="请党委协调闲置公寓。")


def decision(escalation_id: str, decision_code: str, *, due_by: datetime | None, at: datetime) -> Decision:
    """The committee's decision as the handler hands it over; built unchecked, since the case itself must refuse
    a code off the closed list."""
    return Decision.model_construct(escalation_id=escalation_id, decision_code=decision_code, decided="借用闲置公寓",
                                    actor_kind="body", actor_id="housing-office", decided_by="cm-1", decided_at=at,
                                    due_by=due_by)


def new_case() -> Case:
    return Case.open(
        case_id="case-1", concern_id="c-1", channel_kind="officers", category="housing", severity="medium",
        opened_at=T0, subject_officer_id="officer-7", unit="unit-3",
        first_response_due=T0 + timedelta(hours=24), resolution_due=T0 + timedelta(days=14),
    )


def case_in(state: CaseState) -> Case:
    """A case driven to the state along a legal path, its events already handed over."""
    case = new_case()
    if state != "open":
        case.record_reply(at=at(1))
    if state in ("talk_scheduled", "talk_held"):
        case.schedule_talk(talk_id="t1", at=at(2), scheduled_for=at(60))
    if state == "talk_held":
        case.record_talk_held(talk_id="t1", outcome_code="plan_agreed", at=at(61))
    if state in ("escalated", "decided"):
        case.escalate(escalation_id="e1", material=MATERIAL, prepared_by="pw-1", at=at(3))
    if state == "decided":
        case.record_decision(decision=decision("e1", "housing_arranged", due_by=at(10_000), at=at(4)))
    if state in ("resolved", "reopened"):
        case.resolve(method="answered_online", outcome_code="policy_explained", at=at(5))
    if state == "reopened":
        case.reopen(reason_code="problem_recurred", at=at(6))
    assert case.state == state
    case.pull_events()
    return case


ACTIONS: dict[str, Callable[[Case], None]] = {
    "assign": lambda c: c.assign(assignee_id="pw-2", assignee_role="political_worker", by="coord-1", at=at(100)),
    "record_reply": lambda c: c.record_reply(at=at(100)),
    "schedule_talk": lambda c: c.schedule_talk(talk_id="t9", at=at(100), scheduled_for=at(200)),
    "cancel_talk": lambda c: c.cancel_talk(talk_id=c.pending_talk_id or "t1", at=at(100)),
    "record_talk_held": lambda c: c.record_talk_held(
        talk_id=c.pending_talk_id or "t1", outcome_code="difficulty_resolved", at=at(100)
    ),
    "escalate": lambda c: c.escalate(escalation_id="e9", material=MATERIAL, prepared_by="pw-1", at=at(100)),
    "record_decision": lambda c: c.record_decision(
        decision=decision(c.escalation_id or "e1", "request_approved", due_by=None, at=at(100))),
    "resolve_online": lambda c: c.resolve(method="answered_online", outcome_code="question_answered", at=at(100)),
    "resolve_offline": lambda c: c.resolve(method="resolved_offline", outcome_code="difficulty_resolved", at=at(100)),
    "resolve_committee": lambda c: c.resolve(
        method="by_committee", outcome_code="committee_decision_carried_out", at=at(100)),
    "reopen": lambda c: c.reopen(reason_code="problem_recurred", at=at(100)),
}

# state -> {action: state after}; every pair not listed must be refused.
LEGAL: dict[CaseState, dict[str, CaseState]] = {
    "open": {
        "assign": "open", "record_reply": "in_dialogue", "schedule_talk": "talk_scheduled",
        "escalate": "escalated",
    },
    "in_dialogue": {
        "assign": "in_dialogue", "record_reply": "in_dialogue", "schedule_talk": "talk_scheduled",
        "escalate": "escalated", "resolve_online": "resolved",
    },
    "talk_scheduled": {
        "assign": "talk_scheduled", "record_reply": "talk_scheduled", "cancel_talk": "in_dialogue",
        "record_talk_held": "talk_held", "escalate": "escalated",
    },
    "talk_held": {
        "assign": "talk_held", "record_reply": "talk_held", "schedule_talk": "talk_scheduled",
        "escalate": "escalated", "resolve_online": "resolved", "resolve_offline": "resolved",
    },
    "escalated": {"assign": "escalated", "record_reply": "escalated", "record_decision": "decided"},
    "decided": {
        "assign": "decided", "record_reply": "decided", "schedule_talk": "talk_scheduled",
        "resolve_online": "resolved", "resolve_committee": "resolved",
    },
    "resolved": {"reopen": "reopened"},
    "reopened": {
        "assign": "reopened", "record_reply": "reopened", "schedule_talk": "talk_scheduled",
        "escalate": "escalated", "resolve_online": "resolved",
    },
}

MATRIX = [(state, action) for state in CASE_STATES for action in ACTIONS]


def test_matrix_names_every_state() -> None:
    assert set(LEGAL) == set(CASE_STATES)


@pytest.mark.parametrize(("state", "action"), [p for p in MATRIX if p[1] in LEGAL[p[0]]])
def test_legal_transition(state: CaseState, action: str) -> None:
    case = case_in(state)
    version = case.version
    ACTIONS[action](case)
    assert case.state == LEGAL[state][action]
    assert case.version == version + 1
    assert len(case.pending_events) == 1
    assert case.updated_at == at(100)


@pytest.mark.parametrize(("state", "action"), [p for p in MATRIX if p[1] not in LEGAL[p[0]]])
def test_illegal_transition_changes_nothing(state: CaseState, action: str) -> None:
    case = case_in(state)
    before = copy.deepcopy(case)
    with pytest.raises(IllegalTransition) as raised:
        ACTIONS[action](case)
    assert raised.value.current_state == state
    assert raised.value.action == ("resolve" if action.startswith("resolve") else action)
    assert case == before
    assert case.version == before.version
    assert case.pending_events == []


def test_open_records_case_opened_at_version_one() -> None:
    case = new_case()
    assert case.state == "open"
    assert case.version == 1
    assert case.concern_ids == ["c-1"]
    assert case.pending_events == [
        CaseOpened(
            case_id="case-1", concern_id="c-1", channel_kind="officers", category="housing",
            severity="medium", crisis=False, opened_at=T0,
        )
    ]


def test_the_source_story_path_records_each_event_in_order() -> None:
    case = new_case()
    case.assign(assignee_id="pw-1", assignee_role="political_worker", by=None, at=at(1))
    case.record_reply(at=at(5))
    case.schedule_talk(talk_id="t1", at=at(6), scheduled_for=at(1440))
    case.record_talk_held(talk_id="t1", outcome_code="needs_committee", at=at(1441))
    case.escalate(escalation_id="e1", material=MATERIAL, prepared_by="pw-1", at=at(1500))
    due = at(20_000)
    case.record_decision(decision=decision("e1", "housing_arranged", due_by=due, at=at(3000)))
    case.resolve(method="by_committee", outcome_code="committee_decision_carried_out", at=at(9000))
    events = case.pull_events()
    assert events[1:] == [
        CaseAssigned(
            case_id="case-1", assignee_id="pw-1", assignee_role="political_worker", assigned_by=None,
            assigned_at=at(1),
        ),
        ReplyRecorded(case_id="case-1", replied_at=at(5), first_response=True),
        TalkScheduled(case_id="case-1", talk_id="t1", scheduled_for=at(1440), scheduled_at=at(6)),
        TalkHeld(case_id="case-1", talk_id="t1", outcome_code="needs_committee", held_at=at(1441)),
        CaseEscalated(case_id="case-1", escalation_id="e1", escalated_at=at(1500)),
        EscalationDecided(
            case_id="case-1", escalation_id="e1", decision_code="housing_arranged", due_by=due, decided_at=at(3000)
        ),
        CaseResolved(
            case_id="case-1", method="by_committee", outcome_code="committee_decision_carried_out",
            resolved_at=at(9000),
        ),
    ]
    assert case.version == 8
    assert case.pending_events == []
    assert (case.resolution_method, case.outcome_code, case.resolved_at) == (
        "by_committee", "committee_decision_carried_out", at(9000),
    )
    assert (case.decision_code, case.decision_due_by) == ("housing_arranged", due)
    assert case.talks_held == 1


def test_first_response_is_set_once() -> None:
    case = new_case()
    case.record_reply(at=at(10))
    case.record_reply(at=at(20))
    assert case.first_response_at == at(10)
    assert case.last_reply_at == at(20)
    assert case.reply_count == 2
    assert [e.first_response for e in case.pending_events if isinstance(e, ReplyRecorded)] == [True, False]


def test_cancel_returns_to_the_state_before_the_booking() -> None:
    states: tuple[CaseState, ...] = ("open", "in_dialogue", "talk_held", "decided", "reopened")
    for state in states:
        case = case_in(state)
        case.schedule_talk(talk_id="t9", at=at(100), scheduled_for=at(200))
        case.cancel_talk(talk_id="t9", at=at(101), reason_code="subject_unavailable")
        assert case.state == state
        assert case.pending_talk_id is None
        assert case.pending_events[-1] == TalkCancelled(
            case_id="case-1", talk_id="t9", reason_code="subject_unavailable", cancelled_at=at(101)
        )


def test_after_a_decision_the_case_is_carried_out_through_talks() -> None:
    case = case_in("decided")
    case.schedule_talk(talk_id="t2", at=at(100), scheduled_for=at(200))
    case.record_talk_held(talk_id="t2", outcome_code="plan_agreed", at=at(200))
    assert case.state == "talk_held"
    case.resolve(method="by_committee", outcome_code="committee_decision_carried_out", at=at(300))
    assert case.state == "resolved"


def test_a_talk_booked_before_escalation_can_be_held_while_the_committee_deliberates() -> None:
    case = case_in("talk_scheduled")
    case.escalate(escalation_id="e1", material=MATERIAL, prepared_by="pw-1", at=at(100))
    assert case.pending_talk_id == "t1"
    case.record_talk_held(talk_id="t1", outcome_code="follow_up_needed", at=at(110))
    assert case.state == "escalated"
    assert case.pending_talk_id is None
    assert case.talks_held == 1


def test_a_pending_talk_blocks_resolution_and_a_second_booking() -> None:
    case = case_in("talk_scheduled")
    case.escalate(escalation_id="e1", material=MATERIAL, prepared_by="pw-1", at=at(100))
    case.record_decision(decision=decision("e1", "request_approved", due_by=None, at=at(110)))
    before = copy.deepcopy(case)
    with pytest.raises(IllegalTransition, match="still pending"):
        case.resolve(method="by_committee", outcome_code="committee_decision_carried_out", at=at(120))
    with pytest.raises(IllegalTransition, match="pending"):
        case.schedule_talk(talk_id="t2", at=at(120), scheduled_for=at(200))
    assert case == before
    case.cancel_talk(talk_id="t1", at=at(130))
    assert case.state == "decided"
    case.resolve(method="by_committee", outcome_code="committee_decision_carried_out", at=at(140))
    assert case.state == "resolved"


def test_wrong_talk_or_escalation_id_is_refused() -> None:
    case = case_in("talk_scheduled")
    before = copy.deepcopy(case)
    with pytest.raises(WrongReference):
        case.record_talk_held(talk_id="t-other", outcome_code="plan_agreed", at=at(100))
    with pytest.raises(WrongReference):
        case.cancel_talk(talk_id="t-other", at=at(100))
    assert case == before
    case = case_in("escalated")
    before = copy.deepcopy(case)
    with pytest.raises(WrongReference):
        case.record_decision(decision=decision("e-other", "request_approved", due_by=None, at=at(100)))
    assert case == before


def test_a_held_talk_id_cannot_be_booked_again() -> None:
    case = case_in("talk_held")
    with pytest.raises(IllegalTransition, match="already held"):
        case.schedule_talk(talk_id="t1", at=at(100), scheduled_for=at(200))


def test_resolution_methods_need_their_evidence() -> None:
    case = case_in("in_dialogue")
    with pytest.raises(IllegalTransition, match="no talk was held") as raised:
        case.resolve(method="resolved_offline", outcome_code="difficulty_resolved", at=at(100))
    assert raised.value.reason == "no talk was held"
    with pytest.raises(IllegalTransition, match="committee has not decided"):
        case.resolve(method="by_committee", outcome_code="committee_decision_carried_out", at=at(100))
    case = case_in("open")
    case.schedule_talk(talk_id="t1", at=at(1), scheduled_for=at(2))
    case.record_talk_held(talk_id="t1", outcome_code="difficulty_resolved", at=at(3))
    with pytest.raises(IllegalTransition, match="no online reply"):
        case.resolve(method="answered_online", outcome_code="question_answered", at=at(4))
    case.resolve(method="resolved_offline", outcome_code="difficulty_resolved", at=at(4))
    assert case.resolution_method == "resolved_offline"


@pytest.mark.parametrize(
    "command",
    [
        lambda c: c.resolve(method="answered_online", outcome_code="Not A Code", at=at(100)),
        lambda c: c.attach_concern(concern_id="bad id with spaces", at=at(100)),
        lambda c: c.assign(assignee_id="", assignee_role="psychologist", by=None, at=at(100)),
        lambda c: c.schedule_talk(talk_id="t 1", at=at(100), scheduled_for=at(200)),
        lambda c: c.escalate(escalation_id="上报", material=MATERIAL, prepared_by="pw-1", at=at(100)),
    ],
)
def test_invalid_ids_and_codes_change_nothing(command: Callable[[Case], None]) -> None:
    case = case_in("in_dialogue")
    before = copy.deepcopy(case)
    with pytest.raises(InvalidValue):
        command(case)
    assert case == before
    assert case.pending_events == []


def test_invalid_decision_and_reason_codes_change_nothing() -> None:
    case = case_in("escalated")
    before = copy.deepcopy(case)
    with pytest.raises(InvalidValue):
        case.record_decision(decision=decision("e1", "批准", due_by=None, at=at(100)))
    assert case == before
    case = case_in("resolved")
    before = copy.deepcopy(case)
    with pytest.raises(InvalidValue):
        case.reopen(reason_code="", at=at(100))
    assert case == before


@pytest.mark.parametrize(
    ("state", "command"),
    [
        # Code-shaped words outside the closed lists: pinyin or English must not ride into an event.
        ("talk_scheduled", lambda c: c.record_talk_held(talk_id="t1", outcome_code="tanhua_wancheng", at=at(100))),
        ("talk_scheduled", lambda c: c.cancel_talk(talk_id="t1", at=at(100), reason_code="officer_on_duty")),
        ("escalated", lambda c: c.record_decision(decision=decision("e1", "lend_flat", due_by=None, at=at(100)))),
        ("in_dialogue", lambda c: c.resolve(method="answered_online", outcome_code="ok", at=at(100))),
        ("resolved", lambda c: c.reopen(reason_code="wenti_fufa", at=at(100))),
    ],
)
def test_codes_outside_the_closed_lists_change_nothing(state: CaseState, command: Callable[[Case], None]) -> None:
    case = case_in(state)
    before = copy.deepcopy(case)
    with pytest.raises(InvalidValue, match="is not a"):
        command(case)
    assert case == before
    assert case.pending_events == []


def test_assigning_the_same_person_again_changes_nothing() -> None:
    case = new_case()
    case.assign(assignee_id="psy-1", assignee_role="psychologist", by=None, at=at(1))
    version = case.version
    case.assign(assignee_id="psy-1", assignee_role="psychologist", by=None, at=at(2))
    assert case.version == version
    assert sum(isinstance(e, CaseAssigned) for e in case.pending_events) == 1
    case.assign(assignee_id="psy-2", assignee_role="psychologist", by="coord-1", at=at(3))
    assert (case.assignee_id, case.assigned_at) == ("psy-2", at(3))


def test_attach_concern_is_idempotent_and_allowed_in_any_state() -> None:
    for state in CASE_STATES:
        case = case_in(state)
        case.attach_concern(concern_id="c-2", at=at(100))
        case.attach_concern(concern_id="c-2", at=at(101))
        case.attach_concern(concern_id="c-1", at=at(102))
        assert case.concern_ids == ["c-1", "c-2"]
        assert case.pending_events == [ConcernAttached(case_id="case-1", concern_id="c-2", attached_at=at(100))]
        assert case.state == state


def test_reopen_clears_the_resolution_and_continues_like_dialogue() -> None:
    case = case_in("resolved")
    case.reopen(reason_code="problem_recurred", at=at(100))
    assert case.pending_events == [
        CaseReopened(case_id="case-1", reason_code="problem_recurred", reopened_at=at(100))
    ]
    assert (case.resolution_method, case.outcome_code, case.resolved_at) == (None, None, None)
    assert (case.reopen_count, case.reopened_at, case.reopen_reason_code) == (1, at(100), "problem_recurred")
    case.schedule_talk(talk_id="t5", at=at(101), scheduled_for=at(200))
    case.record_talk_held(talk_id="t5", outcome_code="difficulty_resolved", at=at(200))
    case.resolve(method="resolved_offline", outcome_code="difficulty_resolved", at=at(201))
    case.reopen(reason_code="problem_recurred", at=at(300))
    assert case.reopen_count == 2


def test_a_second_escalation_needs_a_new_id() -> None:
    case = case_in("decided")
    case.schedule_talk(talk_id="t2", at=at(100), scheduled_for=at(200))
    case.record_talk_held(talk_id="t2", outcome_code="needs_committee", at=at(200))
    with pytest.raises(IllegalTransition, match="already used"):
        case.escalate(escalation_id="e1", material=MATERIAL, prepared_by="pw-1", at=at(201))
    case.escalate(escalation_id="e2", material=MATERIAL, prepared_by="pw-1", at=at(201))
    assert case.escalation_ids == ["e1", "e2"]
    assert case.escalation_id == "e2"
    with pytest.raises(WrongReference):
        case.record_decision(decision=decision("e1", "request_approved", due_by=None, at=at(202)))


def test_illegal_transition_message_names_state_and_action() -> None:
    case = case_in("resolved")
    with pytest.raises(IllegalTransition) as raised:
        case.record_reply(at=at(100))
    assert str(raised.value) == "cannot record_reply a case in state resolved"
