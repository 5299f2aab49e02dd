"""Offline talks (约谈): schedule, reschedule, cancel, record as held."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tongpin.counselling.domain.case import Case
from tongpin.counselling.handlers.common import Trace, business_now, new_id
from tongpin.counselling.handlers.mutation import Mutation, mutate_case
from tongpin.counselling.repository.ports import CaseStore
from tongpin.shared.auth import Principal
from tongpin.shared.codes import TalkCancelReason, TalkOutcome
from tongpin.shared.problems import Invalid, NotFound


async def schedule_talk(
    *, repo: CaseStore, case_id: str, version: int, scheduled_for: datetime, place: str,
    participants: list[str], staff_ids: list[str], by: Principal, trace: Trace,
) -> tuple[Mutation, str]:
    """Book an offline talk (约谈): time in the future, place, participants."""
    at = business_now()
    if scheduled_for <= at:
        raise Invalid("scheduled_for", "the talk must be scheduled in the future")
    talk_id = new_id("talk")

    def apply(case: Case, _: dict[str, Any]) -> None:
        case.schedule_talk(talk_id=talk_id, at=at, scheduled_for=scheduled_for, place=place,
                           participants=participants, staff_ids=staff_ids, by=by.subject)

    mutation = await mutate_case(repo=repo, case_id=case_id, expected_version=version, apply=apply, trace=trace)
    return mutation, talk_id


def _known(case: Case, talk_id: str) -> None:
    if talk_id not in case.talks:
        raise NotFound("talk", talk_id)


async def reschedule_talk(
    *, repo: CaseStore, case_id: str, talk_id: str, version: int, scheduled_for: datetime | None,
    place: str | None, participants: list[str] | None, staff_ids: list[str] | None, trace: Trace,
) -> Mutation:
    """Move a pending talk to another time, or change its place or participants."""
    at = business_now()
    if scheduled_for is not None and scheduled_for <= at:
        raise Invalid("scheduled_for", "the talk must be scheduled in the future")

    def apply(case: Case, _: dict[str, Any]) -> None:
        _known(case, talk_id)
        case.reschedule_talk(talk_id=talk_id, at=at, scheduled_for=scheduled_for, place=place,
                             participants=participants, staff_ids=staff_ids)

    return await mutate_case(repo=repo, case_id=case_id, expected_version=version, apply=apply, trace=trace)


async def cancel_talk(
    *, repo: CaseStore, case_id: str, talk_id: str, version: int, reason_code: TalkCancelReason | None,
    trace: Trace,
) -> Mutation:
    """Call off a pending talk."""
    at = business_now()

    def apply(case: Case, _: dict[str, Any]) -> None:
        _known(case, talk_id)
        case.cancel_talk(talk_id=talk_id, at=at, reason_code=reason_code)

    return await mutate_case(repo=repo, case_id=case_id, expected_version=version, apply=apply, trace=trace)


async def record_talk_held(
    *, repo: CaseStore, case_id: str, talk_id: str, version: int, outcome_code: TalkOutcome, trace: Trace
) -> Mutation:
    """Record that the talk took place, with its outcome code."""
    at = business_now()

    def apply(case: Case, _: dict[str, Any]) -> None:
        _known(case, talk_id)
        case.record_talk_held(talk_id=talk_id, outcome_code=outcome_code, at=at)

    return await mutate_case(repo=repo, case_id=case_id, expected_version=version, apply=apply, trace=trace)
