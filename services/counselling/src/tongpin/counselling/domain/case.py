"""The Case aggregate (个案) and its lifecycle; plain Python that records the events it causes.

open → in_dialogue → talk_scheduled → talk_held → resolved, with escalated → decided as a branch and
reopened after resolved. A talk booked before an escalation stays booked: it may still be held or
cancelled while the committee deliberates, without moving the case out of the branch.

The aggregate is one class put together from its parts: what it holds (case_record), its talks
(case_talks), its escalations (case_escalations), and here its opening, assignment, replies, resolution
and reopening.
"""

from __future__ import annotations

from datetime import datetime

# What a case records is also named from here, beside the aggregate that records it.
from tongpin.counselling.domain.case_escalations import EscalationCommands
from tongpin.counselling.domain.case_events import (
    CaseAssigned,
    CaseEscalated,
    CaseEvent,
    CaseOpened,
    CaseReopened,
    CaseResolved,
    ConcernAttached,
    EscalationDecided,
    ReplyRecorded,
    TalkCancelled,
    TalkHeld,
    TalkScheduled,
)
from tongpin.counselling.domain.case_rules import (
    CASE_STATES,
    LIVE,
    RESOLVE_FROM,
    CaseError,
    CaseState,
    IllegalTransition,
    InvalidValue,
    WrongReference,
    check_code,
    check_id,
)
from tongpin.counselling.domain.case_talks import TalkCommands
from tongpin.shared.codes import REOPEN_REASONS, RESOLUTION_OUTCOMES, ReopenReason, ResolutionOutcome
from tongpin.shared.events import Category, ChannelKind, ResolutionMethod, Severity, StaffRole

__all__ = [
    "CASE_STATES", "Case", "CaseAssigned", "CaseError", "CaseEscalated", "CaseEvent", "CaseOpened", "CaseReopened",
    "CaseResolved", "CaseState", "ConcernAttached", "EscalationDecided", "IllegalTransition", "InvalidValue",
    "ReplyRecorded", "TalkCancelled", "TalkHeld", "TalkScheduled", "WrongReference",
]


class Case(TalkCommands, EscalationCommands):
    """One subject's counselling case; every change bumps `version` and records events."""

    # --- creation ---------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        *,
        case_id: str,
        concern_id: str,
        channel_kind: ChannelKind,
        category: Category,
        severity: Severity,
        opened_at: datetime,
        subject_officer_id: str | None = None,
        unit: str | None = None,
        crisis: bool = False,
        first_response_due: datetime | None = None,
        resolution_due: datetime | None = None,
    ) -> Case:
        """Open a case from one concern; records CaseOpened."""
        check_id("case_id", case_id)
        check_id("concern_id", concern_id)
        case = cls(
            case_id=case_id,
            channel_kind=channel_kind,
            category=category,
            severity=severity,
            opened_at=opened_at,
            concern_ids=[concern_id],
            subject_officer_id=subject_officer_id,
            unit=unit,
            crisis=crisis,
            first_response_due=first_response_due,
            resolution_due=resolution_due,
            updated_at=opened_at,
        )
        case.pending_events.append(
            CaseOpened(
                case_id=case_id, concern_id=concern_id, channel_kind=channel_kind, category=category,
                severity=severity, crisis=crisis, opened_at=opened_at,
            )
        )
        return case

    # --- commands -----------------------------------------------------------------------------------

    def attach_concern(self, *, concern_id: str, at: datetime) -> None:
        """Attach a related concern; attaching one already attached changes nothing."""
        check_id("concern_id", concern_id)
        if concern_id in self.concern_ids:
            return
        self.concern_ids.append(concern_id)
        self._changed(at, ConcernAttached(case_id=self.case_id, concern_id=concern_id, attached_at=at))

    def assign(self, *, assignee_id: str, assignee_role: StaffRole, by: str | None, at: datetime) -> None:
        """Give the case to a member of staff; the same assignee again changes nothing."""
        self._require("assign", LIVE)
        check_id("assignee_id", assignee_id)
        # Redelivered triage decisions must not produce a second assignment event.
        if assignee_id == self.assignee_id and assignee_role == self.assignee_role:
            return
        self.assignee_id, self.assignee_role, self.assigned_at = assignee_id, assignee_role, at
        self._changed(
            at,
            CaseAssigned(
                case_id=self.case_id, assignee_id=assignee_id, assignee_role=assignee_role,
                assigned_by=by, assigned_at=at,
            ),
        )

    def record_reply(self, *, at: datetime, reply_id: str | None = None) -> None:
        """Record an online reply: open becomes in_dialogue; the first reply sets first_response_at."""
        self._require("record_reply", LIVE)
        first = self.first_response_at is None
        if first:
            self.first_response_at = at
        self.last_reply_at = at
        self.reply_count += 1
        if self.state == "open":
            self.state = "in_dialogue"
        self._changed(at, ReplyRecorded(case_id=self.case_id, replied_at=at, first_response=first, reply_id=reply_id))

    def resolve(self, *, method: ResolutionMethod, outcome_code: ResolutionOutcome, at: datetime) -> None:
        """Resolve the case, saying how; each method needs its evidence (reply, talk held, decision)."""
        self._require("resolve", RESOLVE_FROM)
        if self.pending_talk_id is not None:
            raise IllegalTransition(self.state, "resolve", f"talk {self.pending_talk_id} is still pending")
        missing = {
            "answered_online": None if self.has_reply else "no online reply was recorded",
            "resolved_offline": None if self.talks_held else "no talk was held",
            "by_committee": None if self.decision_code is not None else "the committee has not decided",
        }.get(method, f"unknown method {method!r}")
        if missing:
            raise IllegalTransition(self.state, "resolve", missing)
        check_code("outcome_code", outcome_code, RESOLUTION_OUTCOMES)
        self.resolution_method, self.outcome_code, self.resolved_at = method, outcome_code, at
        self.state = "resolved"
        self._changed(
            at, CaseResolved(case_id=self.case_id, method=method, outcome_code=outcome_code, resolved_at=at)
        )

    def reopen(self, *, reason_code: ReopenReason, at: datetime) -> None:
        """Open a resolved case again; it then continues like a case in dialogue."""
        self._require("reopen", frozenset({"resolved"}))
        check_code("reason_code", reason_code, REOPEN_REASONS)
        self.resolution_method = self.outcome_code = self.resolved_at = None
        self.reopen_count += 1
        self.reopened_at, self.reopen_reason_code = at, reason_code
        self.state = "reopened"
        self._changed(at, CaseReopened(case_id=self.case_id, reason_code=reason_code, reopened_at=at))
