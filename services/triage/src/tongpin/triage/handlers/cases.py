"""The case lifecycle as the queue follows it: cases opened, assigned, moving on, resolved and reopened."""

from __future__ import annotations

from datetime import datetime

from tongpin.shared.events import CaseAssigned, CaseOpened, CaseReopened, CaseResolved
from tongpin.triage.handlers.common import utc
from tongpin.triage.repository import ClusterRepository, DecisionRepository, StaffRepository


async def link_case(*, staff: StaffRepository, decisions: DecisionRepository, data: CaseOpened) -> None:
    """A case opened from a concern: the concern's work item becomes the case's, and the queue shows it open."""
    await staff.link_case(data.case_id, concern_id=data.concern_id, at=utc(data.opened_at))
    latest = await decisions.record_progress(data.case_id, state="open", at=utc(data.opened_at))
    # A later state that arrived first (events reorder) is applied now that the case's concern is known.
    await decisions.set_case_state(state=latest["state"], at=utc(latest["at"]), concern_ids=[data.concern_id],
                                   extra={"case_id": data.case_id})


async def follow_case(*, decisions: DecisionRepository, case_id: str, state: str, at: datetime) -> None:
    """A talk was scheduled or held, or the case went to the committee: the queue shows where it stands."""
    latest = await decisions.record_progress(case_id, state=state, at=utc(at))
    await decisions.set_case_state(state=latest["state"], at=utc(latest["at"]), case_id=case_id)


async def follow_oversight(*, decisions: DecisionRepository, concern_id: str, status: str, at: datetime) -> None:
    """Oversight's item for a concern moved; once it is closed the concern has been handled."""
    await decisions.set_oversight_status(concern_id, status=status, at=utc(at),
                                         close=status in ("resolved", "not_substantiated"))


async def move_case(*, staff: StaffRepository, data: CaseAssigned) -> None:
    """A case was (re)assigned: its load moves to the new assignee."""
    await staff.assign_case(data.case_id, assignee_id=data.assignee_id, at=utc(data.assigned_at))


async def close_case(*, staff: StaffRepository, decisions: DecisionRepository, clusters: ClusterRepository,
                     data: CaseResolved) -> None:
    """A case was resolved: its load is released, its concerns leave the queue, the officer's cluster closes."""
    await staff.resolve_case(data.case_id, data.concern_ids)
    await decisions.set_open(data.concern_ids, open_=False)
    await decisions.record_progress(data.case_id, state="resolved", at=utc(data.resolved_at))
    await decisions.set_case_state(state="resolved", at=utc(data.resolved_at), concern_ids=data.concern_ids)
    await clusters.close_containing(data.concern_ids)


async def reopen_case(*, staff: StaffRepository, decisions: DecisionRepository, clusters: ClusterRepository,
                      data: CaseReopened) -> None:
    """A case was reopened: its load counts again and its concerns return to the queue."""
    concern_ids = await staff.reopen_case(data.case_id)
    await decisions.set_open(concern_ids, open_=True)
    await decisions.record_progress(data.case_id, state="reopened", at=utc(data.reopened_at))
    await decisions.set_case_state(state="reopened", at=utc(data.reopened_at), concern_ids=concern_ids)
    await clusters.reopen_primary(concern_ids)
