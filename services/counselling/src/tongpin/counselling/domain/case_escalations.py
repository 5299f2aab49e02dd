"""A case before the Party committee (上报党委): escalated with its material, decided on, the decision carried out.

The case keeps each escalation whole (see Escalation); the case's own decision fields follow the latest one.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from tongpin.counselling.domain.case_events import CaseEscalated, EscalationDecided
from tongpin.counselling.domain.case_record import CaseRecord
from tongpin.counselling.domain.case_rules import (
    ESCALATE_FROM,
    IllegalTransition,
    WrongReference,
    check_code,
    check_id,
)
from tongpin.counselling.domain.escalation import Decision, Escalation, EscalationMaterial, is_decision_overdue
from tongpin.shared.codes import COMMITTEE_DECISIONS, CommitteeDecision


class EscalationCommands(CaseRecord):
    """The escalation commands of the Case aggregate."""

    def escalate(self, *, escalation_id: str, material: EscalationMaterial, prepared_by: str, at: datetime) -> None:
        """Put the case before the Party committee (上报党委) with its written material."""
        self._require("escalate", ESCALATE_FROM)
        check_id("escalation_id", escalation_id)
        if escalation_id in self.escalation_ids:
            raise IllegalTransition(self.state, "escalate", f"escalation {escalation_id} already used")
        self.escalation_ids.append(escalation_id)
        self.escalations[escalation_id] = Escalation(
            escalation_id=escalation_id, material=material, prepared_by=prepared_by, prepared_at=at
        )
        self.escalated_at = at
        self.state = "escalated"
        self._changed(at, CaseEscalated(case_id=self.case_id, escalation_id=escalation_id, escalated_at=at))

    def record_decision(self, *, decision: Decision) -> None:
        """Record the committee's decision on the pending escalation (what, who acts, by when)."""
        escalation_id, at = decision.escalation_id, decision.decided_at
        self._require("record_decision", frozenset({"escalated"}))
        if escalation_id != self.escalation_id:
            raise WrongReference("escalation", escalation_id, self.escalation_id)
        check_code("decision_code", decision.decision_code, COMMITTEE_DECISIONS)
        decision_code = cast("CommitteeDecision", decision.decision_code)
        if escalation_id in self.escalations:
            self.escalations[escalation_id].decision = decision
        self.decision_code, self.decision_due_by, self.decided_at = decision_code, decision.due_by, at
        self.state = "decided"
        self._changed(
            at,
            EscalationDecided(
                case_id=self.case_id, escalation_id=escalation_id, decision_code=decision_code,
                due_by=decision.due_by, decided_at=at,
            ),
        )

    def complete_decision(self, *, escalation_id: str, at: datetime) -> None:
        """The decision has been carried out; a deadline it had no longer counts as missed.

        It records no event (the catalogue has none for it); the save still makes a new version.
        """
        escalation = self.escalations.get(escalation_id)
        if escalation is None:
            raise WrongReference("escalation", escalation_id, self.escalation_id)
        if escalation.decision is None:
            raise IllegalTransition(self.state, "complete_decision", f"escalation {escalation_id} has no decision yet")
        escalation.done_at, escalation.decision_overdue = at, False

    def flag_overdue_decisions(self, *, now: datetime) -> list[Escalation]:
        """The decisions whose deadline has newly passed undone, now marked so; each is flagged once.

        Flagging is bookkeeping: it records no event and leaves the version alone.
        """
        flagged = []
        for escalation in self.escalations.values():
            if (escalation.decision is None or escalation.done_at or escalation.decision_overdue
                    or not is_decision_overdue(decision=escalation.decision, now=now, done=False)):
                continue
            escalation.decision_overdue = True
            flagged.append(escalation)
        return flagged
