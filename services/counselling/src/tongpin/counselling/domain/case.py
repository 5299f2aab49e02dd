"""The Case aggregate (个案) and its lifecycle; plain Python that records the events it causes.

open → in_dialogue → talk_scheduled → talk_held → resolved, with escalated → decided as a branch and
reopened after resolved. A talk booked before an escalation stays booked: it may still be held or
cancelled while the committee deliberates, without moving the case out of the branch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Final, Literal, get_args

# What a case records is also named from here, beside the aggregate that records it.
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
from tongpin.counselling.domain.talk import Talk
from tongpin.shared.codes import (
    COMMITTEE_DECISIONS,
    REOPEN_REASONS,
    RESOLUTION_OUTCOMES,
    TALK_CANCEL_REASONS,
    TALK_OUTCOMES,
    CodeList,
    CommitteeDecision,
    ReopenReason,
    ResolutionOutcome,
    TalkCancelReason,
    TalkOutcome,
)
from tongpin.shared.events import Category, ChannelKind, Id, ResolutionMethod, Severity, StaffRole

CaseState = Literal[
    "open", "in_dialogue", "talk_scheduled", "talk_held", "escalated", "decided", "resolved", "reopened",
]
CASE_STATES: Final[tuple[CaseState, ...]] = get_args(CaseState)

# One source for what an id looks like and which codes exist: the event catalogue's own.
_ID_PATTERN: Final = re.compile(get_args(Id)[1].pattern)

_LIVE: Final[frozenset[CaseState]] = frozenset(CASE_STATES) - {"resolved"}
_SCHEDULE_FROM: Final[frozenset[CaseState]] = frozenset(
    {"open", "in_dialogue", "talk_held", "decided", "reopened"}
)
# While the committee holds the case, a talk booked earlier may still be held or called off.
_PENDING_TALK_STATES: Final[frozenset[CaseState]] = frozenset({"talk_scheduled", "escalated", "decided"})
_ESCALATE_FROM: Final[frozenset[CaseState]] = frozenset(
    {"open", "in_dialogue", "talk_scheduled", "talk_held", "reopened"}
)
_RESOLVE_FROM: Final[frozenset[CaseState]] = frozenset({"in_dialogue", "talk_held", "decided", "reopened"})


class CaseError(Exception):
    """A command the case refuses; the case is unchanged."""


class IllegalTransition(CaseError):
    """The action is not allowed in the case's current state (or its precondition is unmet)."""

    def __init__(self, current_state: CaseState, action: str, reason: str | None = None) -> None:
        detail = f": {reason}" if reason else ""
        super().__init__(f"cannot {action} a case in state {current_state}{detail}")
        self.current_state = current_state
        self.action = action
        self.reason = reason


class WrongReference(CaseError):
    """The talk or escalation named is not the one the case is waiting on."""

    def __init__(self, kind: str, given: str, expected: str | None) -> None:
        super().__init__(f"{kind} {given} is not the case's pending {kind} ({expected or 'none'})")
        self.kind = kind
        self.given = given
        self.expected = expected


class InvalidValue(CaseError, ValueError):
    """An id argument does not match the catalogue's pattern, or a code is not on its closed list."""


def _check_id(name: str, value: str) -> None:
    if not _ID_PATTERN.fullmatch(value):
        raise InvalidValue(f"{name} {value!r} is not a valid id")


def _check_code(name: str, value: str, codes: CodeList) -> None:
    if value not in codes.values():
        raise InvalidValue(f"{name} {value!r} is not a {codes.name} code ({', '.join(codes.values())})")


# --- the aggregate --------------------------------------------------------------------------------


@dataclass(kw_only=True)
class Case:
    """One subject's counselling case; every change bumps `version` and records events."""

    case_id: str
    channel_kind: ChannelKind
    category: Category
    severity: Severity
    opened_at: datetime
    concern_ids: list[str]
    subject_officer_id: str | None = None
    unit: str | None = None
    crisis: bool = False
    state: CaseState = "open"
    version: int = 1
    updated_at: datetime | None = None

    assignee_id: str | None = None
    assignee_role: StaffRole | None = None
    assigned_at: datetime | None = None

    first_response_due: datetime | None = None
    resolution_due: datetime | None = None
    first_response_at: datetime | None = None
    last_reply_at: datetime | None = None
    reply_count: int = 0

    pending_talk_id: str | None = None
    pending_talk_for: datetime | None = None
    # Where a cancelled talk returns the case to.
    state_before_talk: CaseState | None = None
    held_talk_ids: list[str] = field(default_factory=list)

    escalation_ids: list[str] = field(default_factory=list)
    escalated_at: datetime | None = None
    decision_code: str | None = None
    decision_due_by: datetime | None = None
    decided_at: datetime | None = None

    resolution_method: ResolutionMethod | None = None
    outcome_code: str | None = None
    resolved_at: datetime | None = None
    reopen_count: int = 0
    reopened_at: datetime | None = None
    reopen_reason_code: str | None = None

    # Every talk booked, by id: the case keeps their details as it keeps the pending one's id.
    talks: dict[str, Talk] = field(default_factory=dict)

    pending_events: list[CaseEvent] = field(default_factory=list, repr=False, compare=False)

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
        _check_id("case_id", case_id)
        _check_id("concern_id", concern_id)
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

    # --- queries ------------------------------------------------------------------------------------

    @property
    def is_resolved(self) -> bool:
        """True while the case stands resolved."""
        return self.state == "resolved"

    @property
    def has_reply(self) -> bool:
        """True once staff have answered online at least once."""
        return self.first_response_at is not None

    @property
    def talks_held(self) -> int:
        """How many offline talks have taken place."""
        return len(self.held_talk_ids)

    @property
    def escalation_id(self) -> str | None:
        """The latest escalation, if any."""
        return self.escalation_ids[-1] if self.escalation_ids else None

    def pull_events(self) -> list[CaseEvent]:
        """Hand over the recorded events and forget them (the repository stores them in its outbox)."""
        events, self.pending_events = self.pending_events, []
        return events

    # --- commands -----------------------------------------------------------------------------------

    def attach_concern(self, *, concern_id: str, at: datetime) -> None:
        """Attach a related concern; attaching one already attached changes nothing."""
        _check_id("concern_id", concern_id)
        if concern_id in self.concern_ids:
            return
        self.concern_ids.append(concern_id)
        self._changed(at, ConcernAttached(case_id=self.case_id, concern_id=concern_id, attached_at=at))

    def assign(self, *, assignee_id: str, assignee_role: StaffRole, by: str | None, at: datetime) -> None:
        """Give the case to a member of staff; the same assignee again changes nothing."""
        self._require("assign", _LIVE)
        _check_id("assignee_id", assignee_id)
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
        self._require("record_reply", _LIVE)
        first = self.first_response_at is None
        if first:
            self.first_response_at = at
        self.last_reply_at = at
        self.reply_count += 1
        if self.state == "open":
            self.state = "in_dialogue"
        self._changed(at, ReplyRecorded(case_id=self.case_id, replied_at=at, first_response=first, reply_id=reply_id))

    def schedule_talk(
        self, *, talk_id: str, at: datetime, scheduled_for: datetime, place: str = "",
        participants: list[str] | None = None, staff_ids: list[str] | None = None, by: str | None = None,
    ) -> None:
        """Book an offline talk; only one may be pending at a time."""
        self._require("schedule_talk", _SCHEDULE_FROM)
        if self.pending_talk_id is not None:
            raise IllegalTransition(self.state, "schedule_talk", f"talk {self.pending_talk_id} is pending")
        _check_id("talk_id", talk_id)
        if talk_id in self.held_talk_ids:
            raise IllegalTransition(self.state, "schedule_talk", f"talk {talk_id} was already held")
        self.talks[talk_id] = Talk(
            talk_id=talk_id, scheduled_for=scheduled_for, place=place, participants=list(participants or []),
            staff_ids=list(staff_ids or []), scheduled_by=by, scheduled_at=at,
        )
        self.state_before_talk = self.state
        self.pending_talk_id, self.pending_talk_for = talk_id, scheduled_for
        self.state = "talk_scheduled"
        self._changed(
            at, TalkScheduled(case_id=self.case_id, talk_id=talk_id, scheduled_for=scheduled_for, scheduled_at=at)
        )

    def reschedule_talk(
        self, *, talk_id: str, at: datetime, scheduled_for: datetime | None = None, place: str | None = None,
        participants: list[str] | None = None, staff_ids: list[str] | None = None,
    ) -> None:
        """Move the pending talk to another time (called off and booked again), or change its place or people.

        A change of place or people alone records no event; a new time is reminded of again.
        """
        if self.pending_talk_id != talk_id or talk_id not in self.talks:
            raise IllegalTransition(self.state, "reschedule_talk", f"talk {talk_id} is not pending")
        booked = replace(self.talks[talk_id])
        if scheduled_for is not None:
            self.cancel_talk(talk_id=talk_id, at=at, reason_code="rescheduled")
            self.schedule_talk(talk_id=talk_id, at=at, scheduled_for=scheduled_for)
            booked.scheduled_for, booked.reminded_for = scheduled_for, None
        if place is not None:
            booked.place = place
        if participants is not None:
            booked.participants = list(participants)
        if staff_ids is not None:
            booked.staff_ids = list(staff_ids)
        self.talks[talk_id] = booked

    def cancel_talk(self, *, talk_id: str, at: datetime, reason_code: TalkCancelReason | None = None) -> None:
        """Call off the pending talk; the case returns to where it was before the booking."""
        self._require_pending_talk("cancel_talk", talk_id)
        if reason_code is not None:
            _check_code("reason_code", reason_code, TALK_CANCEL_REASONS)
        if self.state == "talk_scheduled":
            self.state = self.state_before_talk or "in_dialogue"
        self._clear_pending_talk()
        if talk_id in self.talks:
            self.talks[talk_id] = replace(self.talks[talk_id], status="cancelled", cancelled_at=at,
                                          reason_code=reason_code)
        self._changed(
            at, TalkCancelled(case_id=self.case_id, talk_id=talk_id, reason_code=reason_code, cancelled_at=at)
        )

    def record_talk_held(self, *, talk_id: str, outcome_code: TalkOutcome, at: datetime) -> None:
        """Record that the pending talk took place, with its outcome."""
        self._require_pending_talk("record_talk_held", talk_id)
        _check_code("outcome_code", outcome_code, TALK_OUTCOMES)
        if self.state == "talk_scheduled":
            self.state = "talk_held"
        self._clear_pending_talk()
        self.held_talk_ids.append(talk_id)
        if talk_id in self.talks:
            self.talks[talk_id] = replace(self.talks[talk_id], status="held", held_at=at, outcome_code=outcome_code)
        self._changed(
            at, TalkHeld(case_id=self.case_id, talk_id=talk_id, outcome_code=outcome_code, held_at=at)
        )

    def remind_of_talk(self) -> Talk | None:
        """The pending talk if its staff are yet to be reminded of its time, now marked reminded; else None.

        A reminder is bookkeeping: it records no event and leaves the version alone.
        """
        talk = self.talks.get(self.pending_talk_id) if self.pending_talk_id else None
        if talk is None or not talk.needs_reminder:
            return None
        talk.reminded_for = talk.scheduled_for
        return talk

    def escalate(self, *, escalation_id: str, at: datetime) -> None:
        """Put the case before the Party committee (上报党委)."""
        self._require("escalate", _ESCALATE_FROM)
        _check_id("escalation_id", escalation_id)
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
        _check_code("decision_code", decision_code, COMMITTEE_DECISIONS)
        self.decision_code, self.decision_due_by, self.decided_at = decision_code, due_by, at
        self.state = "decided"
        self._changed(
            at,
            EscalationDecided(
                case_id=self.case_id, escalation_id=escalation_id, decision_code=decision_code,
                due_by=due_by, decided_at=at,
            ),
        )

    def resolve(self, *, method: ResolutionMethod, outcome_code: ResolutionOutcome, at: datetime) -> None:
        """Resolve the case, saying how; each method needs its evidence (reply, talk held, decision)."""
        self._require("resolve", _RESOLVE_FROM)
        if self.pending_talk_id is not None:
            raise IllegalTransition(self.state, "resolve", f"talk {self.pending_talk_id} is still pending")
        missing = {
            "answered_online": None if self.has_reply else "no online reply was recorded",
            "resolved_offline": None if self.talks_held else "no talk was held",
            "by_committee": None if self.decision_code is not None else "the committee has not decided",
        }.get(method, f"unknown method {method!r}")
        if missing:
            raise IllegalTransition(self.state, "resolve", missing)
        _check_code("outcome_code", outcome_code, RESOLUTION_OUTCOMES)
        self.resolution_method, self.outcome_code, self.resolved_at = method, outcome_code, at
        self.state = "resolved"
        self._changed(
            at, CaseResolved(case_id=self.case_id, method=method, outcome_code=outcome_code, resolved_at=at)
        )

    def reopen(self, *, reason_code: ReopenReason, at: datetime) -> None:
        """Open a resolved case again; it then continues like a case in dialogue."""
        self._require("reopen", frozenset({"resolved"}))
        _check_code("reason_code", reason_code, REOPEN_REASONS)
        self.resolution_method = self.outcome_code = self.resolved_at = None
        self.reopen_count += 1
        self.reopened_at, self.reopen_reason_code = at, reason_code
        self.state = "reopened"
        self._changed(at, CaseReopened(case_id=self.case_id, reason_code=reason_code, reopened_at=at))

    # --- internals ----------------------------------------------------------------------------------

    def _require(self, action: str, allowed: frozenset[CaseState]) -> None:
        if self.state not in allowed:
            raise IllegalTransition(self.state, action)

    def _require_pending_talk(self, action: str, talk_id: str) -> None:
        if self.state not in _PENDING_TALK_STATES or self.pending_talk_id is None:
            raise IllegalTransition(self.state, action, "no talk is pending")
        if talk_id != self.pending_talk_id:
            raise WrongReference("talk", talk_id, self.pending_talk_id)

    def _clear_pending_talk(self) -> None:
        self.pending_talk_id = self.pending_talk_for = self.state_before_talk = None

    def _changed(self, at: datetime, event: CaseEvent) -> None:
        self.version += 1
        self.updated_at = at
        self.pending_events.append(event)
