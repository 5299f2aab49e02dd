"""The catalogue events a case's changes cause, and the load-apply-save loops every case change goes through."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from tongpin.counselling.domain import case_events as domain
from tongpin.counselling.domain.case import Case, CaseError, IllegalTransition, InvalidValue, WrongReference
from tongpin.counselling.handlers.common import Trace, business_now, catalogue_event
from tongpin.counselling.repository.documents import case_document, case_from_document
from tongpin.counselling.repository.ports import CaseStore
from tongpin.shared import events as ev
from tongpin.shared.envelope import CloudEvent
from tongpin.shared.logging import get_logger
from tongpin.shared.problems import Conflict, Invalid, NotFound

log = get_logger(__name__)

_CONFLICT_RETRIES = 8
T = TypeVar("T")


def catalogue_events(case: Case, recorded: Sequence[domain.CaseEvent], *, trace: Trace) -> list[CloudEvent]:
    """The catalogue events for what the case recorded (attachments and cancellations stay inside)."""
    out: list[CloudEvent] = []
    for item in recorded:
        data: ev.EventData | None = None
        if isinstance(item, domain.CaseOpened):
            data = ev.CaseOpened(
                case_id=case.case_id, concern_id=item.concern_id, channel_kind=item.channel_kind, unit=case.unit,
                category=item.category, severity=item.severity, crisis=item.crisis, opened_at=item.opened_at,
                first_response_due=case.first_response_due, resolution_due=case.resolution_due,
            )
        elif isinstance(item, domain.CaseAssigned):
            data = ev.CaseAssigned(case_id=case.case_id, assignee_id=item.assignee_id,
                                   assignee_role=item.assignee_role, assigned_by=item.assigned_by,
                                   unit=case.unit, assigned_at=item.assigned_at)
        elif isinstance(item, domain.ReplyRecorded) and item.reply_id is not None:
            data = ev.CaseReplied(case_id=case.case_id, reply_id=item.reply_id, first_response=item.first_response,
                                  unit=case.unit, replied_at=item.replied_at)
        elif isinstance(item, domain.TalkScheduled):
            data = ev.TalkScheduled(case_id=case.case_id, talk_id=item.talk_id, scheduled_for=item.scheduled_for,
                                    unit=case.unit, scheduled_at=item.scheduled_at)
        elif isinstance(item, domain.TalkHeld):
            data = ev.TalkHeld(case_id=case.case_id, talk_id=item.talk_id, outcome_code=item.outcome_code,
                               unit=case.unit, held_at=item.held_at)
        elif isinstance(item, domain.CaseEscalated):
            data = ev.CaseEscalated(case_id=case.case_id, escalation_id=item.escalation_id, category=case.category,
                                    unit=case.unit, escalated_at=item.escalated_at)
        elif isinstance(item, domain.EscalationDecided):
            data = ev.EscalationDecided(escalation_id=item.escalation_id, case_id=case.case_id,
                                        decision_code=item.decision_code, due_by=item.due_by,
                                        unit=case.unit, decided_at=item.decided_at)
        elif isinstance(item, domain.CaseResolved):
            first_met = (case.first_response_at <= case.first_response_due
                         if case.first_response_at and case.first_response_due else None)
            resolution_met = item.resolved_at <= case.resolution_due if case.resolution_due else None
            data = ev.CaseResolved(
                case_id=case.case_id, concern_ids=list(case.concern_ids), method=item.method,
                outcome_code=item.outcome_code, channel_kind=case.channel_kind, unit=case.unit,
                category=case.category, severity=case.severity, opened_at=case.opened_at,
                first_response_at=case.first_response_at, first_response_met=first_met,
                resolution_met=resolution_met, resolved_at=item.resolved_at,
            )
        elif isinstance(item, domain.CaseReopened):
            data = ev.CaseReopened(case_id=case.case_id, reason_code=item.reason_code, unit=case.unit,
                                   reopened_at=item.reopened_at)
        if data is not None:
            out.append(catalogue_event(data, subject=case.case_id, trace=trace))
    return out


def invalid_from(exc: InvalidValue) -> Invalid:
    field_name = str(exc).split(" ", 1)[0]
    return Invalid(field_name, str(exc))


@dataclass
class Mutation:
    """What a command did to a case: the case after it, the events stored, the document before."""

    case: Case
    recorded: list[domain.CaseEvent]
    events: list[CloudEvent]
    before: dict[str, Any]


async def mutate_case(
    *,
    repo: CaseStore,
    case_id: str,
    expected_version: int | None,
    apply: Callable[[Case, dict[str, Any]], dict[str, Any] | None],
    trace: Trace,
    extra_events: Callable[[Case], list[ev.EventData]] | None = None,
) -> Mutation:
    """Load, apply one command, and store it with its events if nobody changed the case meanwhile.

    With an expected version (a person's command) a mismatch is a 409; without one (an event
    handler) the command is re-applied to the fresh case until it lands.
    """
    async with repo.lock(case_id):
        return await _mutate_case(repo=repo, case_id=case_id, expected_version=expected_version, apply=apply,
                                  trace=trace, extra_events=extra_events)


async def _mutate_case(
    *,
    repo: CaseStore,
    case_id: str,
    expected_version: int | None,
    apply: Callable[[Case, dict[str, Any]], dict[str, Any] | None],
    trace: Trace,
    extra_events: Callable[[Case], list[ev.EventData]] | None,
) -> Mutation:
    for _ in range(_CONFLICT_RETRIES):
        doc = await repo.get_case(case_id)
        if doc is None:
            raise NotFound("case", case_id)
        if expected_version is not None and doc["version"] != expected_version:
            raise Conflict(f"the case is at version {doc['version']}, not {expected_version}; reload and retry",
                           current_version=doc["version"])
        case = case_from_document(doc)
        try:
            extra = apply(case, doc) or {}
        except InvalidValue as exc:
            raise invalid_from(exc) from exc
        except (IllegalTransition, WrongReference) as exc:
            raise Conflict(str(exc), current_state=case.state) from exc
        except CaseError as exc:
            raise Conflict(str(exc), current_state=case.state) from exc
        if case.version == doc["version"]:
            case.version += 1  # a change no event records (a talk's place or people, feedback) still counts
            case.updated_at = business_now()
        recorded = case.pull_events()
        events = catalogue_events(case, recorded, trace=trace)
        if extra_events is not None:
            events += [catalogue_event(data, subject=case.case_id, trace=trace) for data in extra_events(case)]
        update: dict[str, Any] = {op: dict(values) for op, values in extra.items()}
        update.setdefault("$set", {}).update(case_document(case))
        if await repo.save_case(case_id, expected_version=doc["version"], update=update, events=events):
            return Mutation(case=case, recorded=recorded, events=events, before=doc)
        if expected_version is not None:
            raise Conflict("the case was changed by someone else at the same time; reload and retry")
    raise Conflict("the case keeps changing; try again")


async def keep_books(*, repo: CaseStore, case_id: str, note: Callable[[Case], T | None]) -> tuple[Case, T] | None:
    """Load, note bookkeeping the case records no event for (a talk reminded of, a deadline flagged), and store it
    at the same version if nobody changed the case meanwhile, else note again on the fresh case.

    Returns the case and what was noted; None if the case is gone, there was nothing to note, or it kept
    changing (the next sweep notes it then).
    """
    async with repo.lock(case_id):
        for _ in range(_CONFLICT_RETRIES):
            doc = await repo.get_case(case_id)
            if doc is None:
                return None
            case = case_from_document(doc)
            noted = note(case)
            if not noted:
                return None
            if case.version != doc["version"] or case.pending_events:
                raise RuntimeError("bookkeeping changed the case's version or recorded events")
            if await repo.save_case(case_id, expected_version=doc["version"], update={"$set": case_document(case)},
                                    events=[]):
                return case, noted
    log.warning("case.bookkeeping_deferred", case_id=case_id)
    return None
