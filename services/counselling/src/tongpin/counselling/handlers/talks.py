"""Offline talks (约谈): schedule, reschedule, cancel, record as held."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tongpin.counselling.domain.case import Case, IllegalTransition
from tongpin.counselling.handlers.common import Trace, business_now, new_id
from tongpin.counselling.handlers.mutation import Mutation, mutate_case
from tongpin.counselling.repository import CaseRepository
from tongpin.shared.auth import Principal
from tongpin.shared.codes import TalkCancelReason, TalkOutcome
from tongpin.shared.problems import Invalid, NotFound


async def schedule_talk(
    *, repo: CaseRepository, case_id: str, version: int, scheduled_for: datetime, place: str,
    participants: list[str], staff_ids: list[str], by: Principal, trace: Trace,
) -> tuple[Mutation, str]:
    """Book an offline talk (约谈): time in the future, place, participants."""
    at = business_now()
    if scheduled_for <= at:
        raise Invalid("scheduled_for", "the talk must be scheduled in the future")
    talk_id = new_id("talk")

    def apply(case: Case, _: dict[str, Any]) -> dict[str, Any]:
        case.schedule_talk(talk_id=talk_id, at=at, scheduled_for=scheduled_for)
        talk = {"talk_id": talk_id, "scheduled_for": scheduled_for, "place": place, "participants": participants,
                "staff_ids": staff_ids, "status": "scheduled", "scheduled_by": by.subject, "scheduled_at": at,
                "reminded_for": None}
        return {"$set": {f"talks.{talk_id}": talk}}

    mutation = await mutate_case(repo=repo, case_id=case_id, expected_version=version, apply=apply, trace=trace)
    return mutation, talk_id


async def reschedule_talk(
    *, repo: CaseRepository, case_id: str, talk_id: str, version: int, scheduled_for: datetime | None,
    place: str | None, participants: list[str] | None, staff_ids: list[str] | None, trace: Trace,
) -> Mutation:
    """Move a pending talk to another time, or change its place or participants."""
    at = business_now()
    if scheduled_for is not None and scheduled_for <= at:
        raise Invalid("scheduled_for", "the talk must be scheduled in the future")

    def apply(case: Case, doc: dict[str, Any]) -> dict[str, Any]:
        if talk_id not in doc.get("talks", {}):
            raise NotFound("talk", talk_id)
        if case.pending_talk_id != talk_id:
            raise IllegalTransition(case.state, "reschedule_talk", f"talk {talk_id} is not pending")
        changes: dict[str, Any] = {}
        if scheduled_for is not None:
            case.cancel_talk(talk_id=talk_id, at=at, reason_code="rescheduled")
            case.schedule_talk(talk_id=talk_id, at=at, scheduled_for=scheduled_for)
            changes[f"talks.{talk_id}.scheduled_for"] = scheduled_for
            changes[f"talks.{talk_id}.reminded_for"] = None
        if place is not None:
            changes[f"talks.{talk_id}.place"] = place
        if participants is not None:
            changes[f"talks.{talk_id}.participants"] = participants
        if staff_ids is not None:
            changes[f"talks.{talk_id}.staff_ids"] = staff_ids
        return {"$set": changes}

    return await mutate_case(repo=repo, case_id=case_id, expected_version=version, apply=apply, trace=trace)


async def cancel_talk(
    *, repo: CaseRepository, case_id: str, talk_id: str, version: int, reason_code: TalkCancelReason | None,
    trace: Trace,
) -> Mutation:
    """Call off a pending talk."""
    at = business_now()

    def apply(case: Case, doc: dict[str, Any]) -> dict[str, Any]:
        if talk_id not in doc.get("talks", {}):
            raise NotFound("talk", talk_id)
        case.cancel_talk(talk_id=talk_id, at=at, reason_code=reason_code)
        return {"$set": {f"talks.{talk_id}.status": "cancelled", f"talks.{talk_id}.cancelled_at": at,
                         f"talks.{talk_id}.reason_code": reason_code}}

    return await mutate_case(repo=repo, case_id=case_id, expected_version=version, apply=apply, trace=trace)


async def record_talk_held(
    *, repo: CaseRepository, case_id: str, talk_id: str, version: int, outcome_code: TalkOutcome, trace: Trace
) -> Mutation:
    """Record that the talk took place, with its outcome code."""
    at = business_now()

    def apply(case: Case, doc: dict[str, Any]) -> dict[str, Any]:
        if talk_id not in doc.get("talks", {}):
            raise NotFound("talk", talk_id)
        case.record_talk_held(talk_id=talk_id, outcome_code=outcome_code, at=at)
        return {"$set": {f"talks.{talk_id}.status": "held", f"talks.{talk_id}.held_at": at,
                         f"talks.{talk_id}.outcome_code": outcome_code}}

    return await mutate_case(repo=repo, case_id=case_id, expected_version=version, apply=apply, trace=trace)
