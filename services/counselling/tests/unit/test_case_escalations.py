"""The Case keeps its escalations whole (material, decision, completion, missed deadlines) and its talk
reminders, and they are stored and loaded in the shape case documents have always had."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest

from tongpin.counselling.domain.case import Case, IllegalTransition, WrongReference
from tongpin.counselling.domain.escalation import Decision, Escalation, EscalationMaterial
from tongpin.counselling.repository.documents import case_document, case_from_document

pytestmark = pytest.mark.unit

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
MATERIAL = EscalationMaterial(subject="住房困难", background="民警因无住房无法结婚。", actions_taken="已线下约谈两次。",
                              decision_requested="请党委协调闲置公寓。")


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def decision(*, due_by: datetime | None = at(10_000), decided_at: datetime = at(20)) -> Decision:
    return Decision(escalation_id="esc-1", decision_code="housing_arranged", decided="借用闲置公寓",
                    actor_kind="staff", actor_id="pw-2", decided_by="cm-1", decided_at=decided_at, due_by=due_by)


def in_dialogue() -> Case:
    case = Case.open(case_id="case-1", concern_id="c-1", channel_kind="officers", category="housing",
                     severity="medium", opened_at=T0)
    case.record_reply(at=at(1))
    return case


def escalated() -> Case:
    case = in_dialogue()
    case.escalate(escalation_id="esc-1", material=MATERIAL, prepared_by="pw-1", at=at(10))
    return case


def test_raised_decided_and_done_end_in_one_escalation_the_case_holds() -> None:
    case = escalated()
    assert case.escalations == {"esc-1": Escalation(escalation_id="esc-1", material=MATERIAL, prepared_by="pw-1",
                                                    prepared_at=at(10))}
    case.record_decision(decision=decision())
    case.complete_decision(escalation_id="esc-1", at=at(30))
    assert case.escalations["esc-1"] == Escalation(
        escalation_id="esc-1", material=MATERIAL, prepared_by="pw-1", prepared_at=at(10), decision=decision(),
        done_at=at(30), decision_overdue=False)
    assert (case.state, case.decision_code, case.decision_due_by, case.decided_at) == (
        "decided", "housing_arranged", at(10_000), at(20))
    # Completion records no event: the save of the command makes its version.
    assert case.version == 4
    assert [type(e).__name__ for e in case.pull_events()] == [
        "CaseOpened", "ReplyRecorded", "CaseEscalated", "EscalationDecided"]


def test_completion_needs_a_decision_on_one_of_the_cases_escalations() -> None:
    case = escalated()
    case.pull_events()
    before = copy.deepcopy(case)
    with pytest.raises(IllegalTransition, match="esc-1 has no decision yet"):
        case.complete_decision(escalation_id="esc-1", at=at(30))
    with pytest.raises(WrongReference):
        case.complete_decision(escalation_id="esc-other", at=at(30))
    assert case == before and case.pending_events == []


def test_a_missed_deadline_is_flagged_once_and_not_when_done_or_without_a_deadline() -> None:
    case = escalated()
    case.record_decision(decision=decision(due_by=at(100)))
    case.pull_events()
    version = case.version
    assert case.flag_overdue_decisions(now=at(100)) == []
    [flagged] = case.flag_overdue_decisions(now=at(101))
    assert flagged is case.escalations["esc-1"] and flagged.decision_overdue is True
    assert case.flag_overdue_decisions(now=at(200)) == [], "flagged once"
    case.complete_decision(escalation_id="esc-1", at=at(210))
    assert case.escalations["esc-1"].decision_overdue is False
    assert case.flag_overdue_decisions(now=at(300)) == [], "done"
    assert (case.version, case.pending_events) == (version, [])
    open_ended = escalated()
    open_ended.record_decision(decision=decision(due_by=None))
    assert open_ended.flag_overdue_decisions(now=at(10**6)) == []


def test_a_talk_reminder_is_noted_once_per_booked_time_without_a_new_version() -> None:
    case = in_dialogue()
    case.schedule_talk(talk_id="talk-1", at=at(11), scheduled_for=at(600), staff_ids=["pw-2"])
    case.pull_events()
    version = case.version
    talk = case.remind_of_talk()
    assert talk is case.talks["talk-1"] and talk.reminded_for == at(600)
    assert case.remind_of_talk() is None
    assert (case.version, case.pending_events) == (version, [])
    case.reschedule_talk(talk_id="talk-1", at=at(12), scheduled_for=at(700))
    assert case.talks["talk-1"].reminded_for is None
    assert case.remind_of_talk() is case.talks["talk-1"]


def test_a_document_stored_before_the_case_held_its_escalations_loads_and_stores_the_same() -> None:
    case = escalated()
    stored = case_document(case)
    entry = {"escalation_id": "esc-1", "material": MATERIAL.model_dump(), "prepared_by": "pw-1", "prepared_at": at(10),
             "decision": decision().model_dump(), "done_at": None, "decision_overdue": True}
    stored["escalations"] = {"esc-1": entry}
    stored["talks"] = {"talk-1": {"talk_id": "talk-1", "scheduled_for": at(600), "place": "谈心室",
                                  "participants": [], "staff_ids": [], "status": "scheduled", "scheduled_by": "pw-1",
                                  "scheduled_at": at(11), "reminded_for": at(600)}}
    loaded = case_from_document({"_id": "case-1", "dialogue": [], "feedback": [], "outbox": {}, **stored})
    assert loaded.escalations["esc-1"].decision == decision()
    assert loaded.escalations["esc-1"].decision_overdue is True
    assert loaded.talks["talk-1"].reminded_for == at(600)
    again = case_document(loaded)
    assert again["escalations"] == {"esc-1": entry}
    assert again["talks"] == stored["talks"]


def test_a_document_without_escalations_loads_with_none() -> None:
    stored = case_document(escalated())
    del stored["escalations"]
    assert case_from_document(stored).escalations == {}
