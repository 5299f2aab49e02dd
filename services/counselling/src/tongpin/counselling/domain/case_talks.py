"""A case's offline talks (约谈): booked, moved, called off, held, and reminded of; one pending at a time."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from tongpin.counselling.domain.case_events import TalkCancelled, TalkHeld, TalkScheduled
from tongpin.counselling.domain.case_record import CaseRecord
from tongpin.counselling.domain.case_rules import (
    PENDING_TALK_STATES,
    SCHEDULE_FROM,
    IllegalTransition,
    WrongReference,
    check_code,
    check_id,
)
from tongpin.counselling.domain.talk import Talk
from tongpin.shared.codes import TALK_CANCEL_REASONS, TALK_OUTCOMES, TalkCancelReason, TalkOutcome


class TalkCommands(CaseRecord):
    """The talk commands of the Case aggregate."""

    def schedule_talk(
        self, *, talk_id: str, at: datetime, scheduled_for: datetime, place: str = "",
        participants: list[str] | None = None, staff_ids: list[str] | None = None, by: str | None = None,
    ) -> None:
        """Book an offline talk; only one may be pending at a time."""
        self._require("schedule_talk", SCHEDULE_FROM)
        if self.pending_talk_id is not None:
            raise IllegalTransition(self.state, "schedule_talk", f"talk {self.pending_talk_id} is pending")
        check_id("talk_id", talk_id)
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
            check_code("reason_code", reason_code, TALK_CANCEL_REASONS)
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
        check_code("outcome_code", outcome_code, TALK_OUTCOMES)
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

    def _require_pending_talk(self, action: str, talk_id: str) -> None:
        if self.state not in PENDING_TALK_STATES or self.pending_talk_id is None:
            raise IllegalTransition(self.state, action, "no talk is pending")
        if talk_id != self.pending_talk_id:
            raise WrongReference("talk", talk_id, self.pending_talk_id)

    def _clear_pending_talk(self) -> None:
        self.pending_talk_id = self.pending_talk_for = self.state_before_talk = None
