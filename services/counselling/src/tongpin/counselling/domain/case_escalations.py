"""A case before the Party committee (上报党委): escalated, decided on."""

from __future__ import annotations

from datetime import datetime

from tongpin.counselling.domain.case_events import CaseEscalated, EscalationDecided
from tongpin.counselling.domain.case_record import CaseRecord
from tongpin.counselling.domain.case_rules import (
    ESCALATE_FROM,
    IllegalTransition,
    WrongReference,
    check_code,
    check_id,
)
from tongpin.shared.codes import COMMITTEE_DECISIONS, CommitteeDecision


class EscalationCommands(CaseRecord):
    """The escalation commands of the Case aggregate."""

    def escalate(self, *, escalation_id: str, at: datetime) -> None:
        """Put the case before the Party committee (上报党委)."""
        self._require("escalate", ESCALATE_FROM)
        check_id("escalation_id", escalation_id)
        if escalation_id in self.escalation_ids:
            raise IllegalTransition(self.state, "escalate", f"escalation {escalation_id} already used")
        self.escalation_ids.append(escalation_id)
        self.escalated_at = at
        self.state = "escalated"
        self._changed(at, CaseEscalated(case_id=self.case_id, escalation_id=escalation_id, escalated_at=at))

    def record_decision(
        self, *, escalation_id: str, decision_code: CommitteeDecision, due_by: datetime | None, at: datetime
    ) -> None:
        """Record the committee's decision on the pending escalation."""
        self._require("record_decision", frozenset({"escalated"}))
        if escalation_id != self.escalation_id:
            raise WrongReference("escalation", escalation_id, self.escalation_id)
        check_code("decision_code", decision_code, COMMITTEE_DECISIONS)
        self.decision_code, self.decision_due_by, self.decided_at = decision_code, due_by, at
        self.state = "decided"
        self._changed(
            at,
            EscalationDecided(
                case_id=self.case_id, escalation_id=escalation_id, decision_code=decision_code,
                due_by=due_by, decided_at=at,
            ),
        )
