"""Counselling's command and event handlers; dependencies arrive as keyword parameters."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from argon2 import PasswordHasher

from tongpin.counselling.domain import case as domain
from tongpin.counselling.domain.access import case_access
from tongpin.counselling.domain.case import Case, CaseError, IllegalTransition, InvalidValue, WrongReference
from tongpin.counselling.domain.escalation import Decision, EscalationMaterial, render_material_html
from tongpin.counselling.domain.identity import (
    LoginThrottle,
    ThrottleCounter,
    ThrottleDecision,
    TokenIssuer,
    hash_password,
    verify_password,
    verify_unknown_account,
)
from tongpin.counselling.domain.roles import CASE_WORKER_ROLES
from tongpin.counselling.domain.sealed import KeyRing, NoteUnreadable, author_group_for, can_read_note
from tongpin.counselling.domain.sla import Targets, due_dates, is_overdue, summarise
from tongpin.counselling.repository import (
    BreakGlassRepository,
    BroadcastRepository,
    CaseRepository,
    NoteRepository,
    NotificationRepository,
    StaffRepository,
)
from tongpin.shared import clock
from tongpin.shared import events as ev
from tongpin.shared.auth import Principal
from tongpin.shared.codes import CommitteeDecision, ReopenReason, ResolutionOutcome, TalkCancelReason, TalkOutcome
from tongpin.shared.envelope import CloudEvent, child_traceparent
from tongpin.shared.logging import get_logger
from tongpin.shared.problems import Conflict, Invalid, NotFound, Problem

log = get_logger(__name__)

_CASE_FIELDS = tuple(f.name for f in fields(Case) if f.name != "pending_events")
_CONFLICT_RETRIES = 8


@dataclass(frozen=True, kw_only=True)
class Trace:
    """The correlation id and traceparent the events a command or event causes carry on."""

    correlationid: str | None = None
    traceparent: str | None = None

    @classmethod
    def following(cls, event: CloudEvent) -> Trace:
        """The trace of events caused by handling another event."""
        return cls(correlationid=event.correlationid, traceparent=child_traceparent(event.traceparent))


def _now() -> datetime:
    """Business time: the runtime's clock (tongpin.shared.clock), a simulated one when a demo plays a past year."""
    return clock.now()


def _system_now() -> datetime:
    """Security time — the staff directory's changes, which order every service's view of a staff member's
    standing, logins and their throttle: always the system clock, never a demo's."""
    return datetime.now(UTC)


def _new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def _event(data: ev.EventData, *, subject: str, trace: Trace) -> CloudEvent:
    return ev.make_event(data, subject=subject, correlationid=trace.correlationid, traceparent=trace.traceparent)


# --- the case document ----------------------------------------------------------------------------


def case_from_doc(doc: Mapping[str, Any]) -> Case:
    """Rebuild the aggregate from its stored fields."""
    return Case(**{name: doc[name] for name in _CASE_FIELDS if name in doc})


def case_fields(case: Case) -> dict[str, Any]:
    """The aggregate's fields as stored."""
    return {name: getattr(case, name) for name in _CASE_FIELDS}


def _cloud_events(case: Case, recorded: Sequence[domain.CaseEvent], *, trace: Trace) -> list[CloudEvent]:
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
            out.append(_event(data, subject=case.case_id, trace=trace))
    return out


def _invalid_from(exc: InvalidValue) -> Invalid:
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
    repo: CaseRepository,
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
    repo: CaseRepository,
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
        case = case_from_doc(doc)
        try:
            extra = apply(case, doc) or {}
        except InvalidValue as exc:
            raise _invalid_from(exc) from exc
        except (IllegalTransition, WrongReference) as exc:
            raise Conflict(str(exc), current_state=case.state) from exc
        except CaseError as exc:
            raise Conflict(str(exc), current_state=case.state) from exc
        if case.version == doc["version"]:
            case.version += 1  # a change outside the state machine (talk details, feedback) still counts
            case.updated_at = _now()
        recorded = case.pull_events()
        events = _cloud_events(case, recorded, trace=trace)
        if extra_events is not None:
            events += [_event(data, subject=case.case_id, trace=trace) for data in extra_events(case)]
        update: dict[str, Any] = {op: dict(values) for op, values in extra.items()}
        update.setdefault("$set", {}).update(case_fields(case))
        if await repo.save_case(case_id, expected_version=doc["version"], update=update, events=events):
            return Mutation(case=case, recorded=recorded, events=events, before=doc)
        if expected_version is not None:
            raise Conflict("the case was changed by someone else at the same time; reload and retry")
    raise Conflict("the case keeps changing; try again")


# --- notifications --------------------------------------------------------------------------------


async def notify(
    *, feed: NotificationRepository, staff_id: str, kind: str, notification_id: str, case_id: str | None = None,
    webhook: bool, at: datetime | None = None, **details: Any,
) -> bool:
    """Put one item in a staff member's feed (ids and codes only); the same id twice adds it once."""
    document = {
        "_id": notification_id, "staff_id": staff_id, "kind": kind, "case_id": case_id,
        "details": details, "created_at": at or _now(), "read_at": None, "webhook_pending": webhook,
    }
    added = await feed.add(document)
    if added:
        log.info("notification.added", staff_id=staff_id, kind=kind, case_id=case_id)
    return added


async def _notify_assignments(
    *, feed: NotificationRepository, mutation: Mutation, webhook: bool, kind: str = "assignment"
) -> None:
    for item in mutation.recorded:
        if isinstance(item, domain.CaseAssigned):
            await notify(feed=feed, staff_id=item.assignee_id, kind=kind, case_id=mutation.case.case_id,
                         notification_id=f"{kind}:{mutation.case.case_id}:{item.assignee_id}:{mutation.case.version}",
                         webhook=webhook, severity=mutation.case.severity)


async def notify_reading_overdue(
    *, staff: StaffRepository, feed: NotificationRepository, overdue: ev.ReadingOverdue, webhook: bool,
) -> None:
    """A message passed its reading target unread: every on-call member of staff hears of it (the
    coordinators, when nobody is on call). Ids and codes only; the text stays in intake's reading list."""
    on_call = [doc["_id"] for doc in await staff.find({"on_call": True, "active": True, "on_leave": False})]
    for staff_id in on_call or await coordinators(staff=staff):
        await notify(feed=feed, staff_id=staff_id, kind="reading_overdue", case_id=None,
                     notification_id=f"reading_overdue:{overdue.concern_id}:{staff_id}:{overdue.due_at.isoformat()}",
                     webhook=webhook, concern_id=overdue.concern_id, severity=overdue.severity,
                     crisis=overdue.crisis, target=overdue.target, unit=overdue.unit,
                     due_at=overdue.due_at.isoformat())


async def coordinators(*, staff: StaffRepository) -> list[str]:
    """Active centre coordinators, who hear about what has nobody to hear it."""
    return [doc["_id"] for doc in await staff.find({"roles": "centre_coordinator", "active": True})]


async def crisis_psychologist(*, staff: StaffRepository, repo: CaseRepository, proposed: str | None) -> str | None:
    """Who takes a crisis: the psychologist triage named if they still can, else the on-call one, else any."""
    if proposed:
        member = await staff.get(proposed)
        if member is not None and "psychologist" in member.get("roles", ()) and member.get("active", True) \
                and not member.get("on_leave", False):
            return proposed
    return (await pick_assignee(staff=staff, repo=repo, role="psychologist", on_call=True)
            or await pick_assignee(staff=staff, repo=repo, role="psychologist"))


async def pick_assignee(
    *, staff: StaffRepository, repo: CaseRepository, role: str, on_call: bool = False
) -> str | None:
    """An active member of staff with the role, not on leave, with the fewest live cases."""
    query: dict[str, Any] = {"roles": role, "active": True, "on_leave": False}
    if on_call:
        query["on_call"] = True
    candidates = await staff.find(query)
    if not candidates:
        return None
    loads = [(await repo.count_live_for(doc["_id"]), doc["_id"]) for doc in candidates]
    return min(loads)[1]


# --- cases from triage ----------------------------------------------------------------------------


async def record_concern_text(
    *, repo: CaseRepository, staff: StaffRepository, feed: NotificationRepository, targets: Targets,
    event: CloudEvent, concern: ev.ConcernRaised, webhook: bool,
) -> None:
    """Keep a concern's text until its decision arrives (they may come in either order)."""
    raised = concern.model_dump(exclude={"text"})
    doc = await repo.merge_concern(concern.concern_id, {"text": concern.text, "raised": raised})
    await _open_case_when_complete(repo=repo, staff=staff, feed=feed, targets=targets, event=event, doc=doc,
                                   webhook=webhook)


async def record_decision(
    *, repo: CaseRepository, staff: StaffRepository, feed: NotificationRepository, targets: Targets,
    event: CloudEvent, decision: ev.ConcernTriaged, webhook: bool,
) -> None:
    """Keep triage's decision; open the case once the text is here, or apply an override to it."""
    doc = await repo.merge_concern(decision.concern_id, {"decision": decision.model_dump(mode="python")})
    await _open_case_when_complete(repo=repo, staff=staff, feed=feed, targets=targets, event=event, doc=doc,
                                   webhook=webhook, override=decision if decision.overridden else None)


async def _open_case_when_complete(
    *, repo: CaseRepository, staff: StaffRepository, feed: NotificationRepository, targets: Targets,
    event: CloudEvent, doc: dict[str, Any], webhook: bool, override: ev.ConcernTriaged | None = None,
) -> None:
    # ``doc`` is the concern as our merge left it: the write gate runs the two halves' merges one after the
    # other, so whichever comes second sees both (no second read; FerretDB scans for every find).
    concern_id = doc["_id"]
    decision = doc.get("decision")
    trace = Trace.following(event)
    attached_to = doc.get("case_id")
    if attached_to or override is not None:
        own_case = await repo.get_case(f"case-{concern_id}")
        if own_case is not None or attached_to:
            case_id = attached_to or f"case-{concern_id}"
            await repo.merge_concern(concern_id, {"case_id": case_id})
            if override is not None and own_case is not None:
                await _apply_override(repo=repo, staff=staff, feed=feed, targets=targets, case_id=case_id,
                                      decision=override, trace=trace, webhook=webhook)
            return
    # A case stored by a run that died before noting it on the concern is found by open_case's insert.
    if decision is None or "text" not in doc:
        return
    if decision["route"] == "dismiss":
        # Text is kept only for concerns that became cases.
        await repo.forget_text(concern_id)
        return
    primary = doc.get("merged_into")
    if primary and await repo.get_case(f"case-{primary}") is not None:
        await attach_concern(repo=repo, case_id=f"case-{primary}", concern_id=concern_id, trace=trace)
        return
    await open_case(
        repo=repo, staff=staff, feed=feed, targets=targets, concern_id=concern_id,
        channel_id=decision["channel_id"], channel_kind=decision["channel_kind"], unit=decision.get("unit"),
        about_officer_id=decision.get("about_officer_id"), category=decision["category"],
        severity=decision["severity"], crisis=bool(decision.get("crisis")), assignee_id=decision.get("assignee_id"),
        assignee_role=decision.get("assignee_role"), route=decision["route"], flags=decision.get("flags", []),
        trace=trace, webhook=webhook,
    )


async def open_case(
    *, repo: CaseRepository, staff: StaffRepository, feed: NotificationRepository, targets: Targets,
    concern_id: str, channel_id: str, channel_kind: str, unit: str | None, about_officer_id: str | None,
    category: str, severity: str, crisis: bool, assignee_id: str | None, assignee_role: str | None, route: str,
    flags: Sequence[str], trace: Trace, webhook: bool, now: datetime | None = None,
) -> str:
    """Open the case of a concern (idempotent: its id comes from the concern) and assign it."""
    now = now or _now()
    case_id = f"case-{concern_id}"
    due = due_dates(severity=severity, opened_at=now, targets=targets)  # type: ignore[arg-type]
    case = Case.open(
        case_id=case_id, concern_id=concern_id, channel_kind=channel_kind, category=category,  # type: ignore[arg-type]
        severity=severity, opened_at=now, subject_officer_id=about_officer_id, unit=unit,  # type: ignore[arg-type]
        crisis=crisis, first_response_due=due.first_response_due, resolution_due=due.resolution_due,
    )
    if crisis:
        assignee_id = await crisis_psychologist(staff=staff, repo=repo, proposed=assignee_id)
        assignee_role = "psychologist"
    elif assignee_id is None and assignee_role in CASE_WORKER_ROLES:
        assignee_id = await pick_assignee(staff=staff, repo=repo, role=assignee_role)
    if assignee_id is not None:
        member = await staff.get(assignee_id)
        role = assignee_role or _case_role(member) or "political_worker"
        case.assign(assignee_id=assignee_id, assignee_role=role, by=None, at=now)  # type: ignore[arg-type]
    recorded = case.pull_events()
    document = {
        "_id": case_id, **case_fields(case), "channel_id": channel_id, "route": route, "flags": list(flags),
        "dialogue": [], "talks": {}, "escalations": {}, "feedback": [],
    }
    created = await repo.insert_case(document, _cloud_events(case, recorded, trace=trace))
    await repo.merge_concern(concern_id, {"case_id": case_id})
    if created:
        log.info("case.opened", case_id=case_id, severity=severity, crisis=crisis, assignee_id=assignee_id)
        stored = document
    else:  # opened before (a repeat): notify as the stored case says
        found = await repo.get_case(case_id)
        assert found is not None
        stored = found
    kind = "crisis" if crisis else "assignment"
    if stored.get("assignee_id"):
        await notify(feed=feed, staff_id=stored["assignee_id"], kind=kind, case_id=case_id,
                     notification_id=f"{kind}:{case_id}:{stored['assignee_id']}:open", webhook=webhook,
                     severity=stored["severity"], at=now)
    elif crisis:
        for coordinator in await coordinators(staff=staff):
            await notify(feed=feed, staff_id=coordinator, kind="crisis_unassigned", case_id=case_id,
                         notification_id=f"crisis_unassigned:{case_id}:{coordinator}", webhook=webhook,
                         severity=stored["severity"], at=now)
    for merged in await repo.concerns_merged_into(concern_id):
        await attach_concern(repo=repo, case_id=case_id, concern_id=merged["_id"], trace=trace)
    return case_id


def _case_role(member: Mapping[str, Any] | None) -> str | None:
    for role in (member or {}).get("roles", []):
        if role in CASE_WORKER_ROLES:
            return str(role)
    return None


async def _apply_override(
    *, repo: CaseRepository, staff: StaffRepository, feed: NotificationRepository, targets: Targets, case_id: str,
    decision: ev.ConcernTriaged, trace: Trace, webhook: bool,
) -> None:
    """Staff overrode triage: the case takes the new category, severity (and due dates) and assignee.

    The assignee is taken only if they are an active case worker; anyone else named (an auditor, a
    committee member) is ignored, as POST /cases/{id}/assign would refuse them.
    """
    member = await staff.get(decision.assignee_id) if decision.assignee_id else None
    if decision.assignee_id and (member is None or not member.get("active", True) or _case_role(member) is None):
        log.warning("case.override_assignee_refused", case_id=case_id, assignee_id=decision.assignee_id)
        decision = decision.model_copy(update={"assignee_id": None})

    def apply(case: Case, _: dict[str, Any]) -> None:
        if case.is_resolved:
            return
        case.category, case.severity = decision.category, decision.severity
        due = due_dates(severity=decision.severity, opened_at=case.opened_at, targets=targets)
        case.first_response_due, case.resolution_due = due.first_response_due, due.resolution_due
        if decision.assignee_id:
            role = decision.assignee_role or _case_role(member) or case.assignee_role or "political_worker"
            case.assign(assignee_id=decision.assignee_id, assignee_role=role, by=None, at=_now())  # type: ignore[arg-type]

    mutation = await mutate_case(repo=repo, case_id=case_id, expected_version=None, apply=apply, trace=trace)
    await _notify_assignments(feed=feed, mutation=mutation, webhook=webhook)


async def attach_concern(*, repo: CaseRepository, case_id: str, concern_id: str, trace: Trace) -> None:
    """Attach a related concern to a case (attaching it twice changes nothing)."""

    def apply(case: Case, _: dict[str, Any]) -> None:
        case.attach_concern(concern_id=concern_id, at=_now())

    doc = await repo.get_case(case_id)
    if doc is not None and concern_id in doc.get("concern_ids", []):
        await repo.merge_concern(concern_id, {"case_id": case_id})
        return
    await mutate_case(repo=repo, case_id=case_id, expected_version=None, apply=apply, trace=trace)
    await repo.merge_concern(concern_id, {"case_id": case_id})


async def record_merge(*, repo: CaseRepository, event: CloudEvent, merge: ev.ConcernMerged) -> None:
    """A concern was merged into another: it joins the primary concern's case (now or when that opens)."""
    await repo.merge_concern(merge.concern_id, {"merged_into": merge.primary_concern_id})
    primary_case = f"case-{merge.primary_concern_id}"
    if await repo.get_case(primary_case) is not None:
        await attach_concern(repo=repo, case_id=primary_case, concern_id=merge.concern_id,
                             trace=Trace.following(event))


async def record_crisis(
    *, repo: CaseRepository, staff: StaffRepository, feed: NotificationRepository, targets: Targets,
    event: CloudEvent, crisis: ev.EscalationRaised, webhook: bool,
) -> None:
    """Crisis fast path: open the case at once with the on-call psychologist, and tell them."""
    trace = Trace.following(event)
    case_id = f"case-{crisis.concern_id}"
    await repo.merge_concern(crisis.concern_id, {"crisis": crisis.model_dump(mode="python")})
    if await repo.get_case(case_id) is None:
        await open_case(
            repo=repo, staff=staff, feed=feed, targets=targets, concern_id=crisis.concern_id,
            channel_id=crisis.channel_id, channel_kind=crisis.channel_kind, unit=crisis.unit,
            about_officer_id=crisis.about_officer_id, category=crisis.category, severity=crisis.severity,
            crisis=True, assignee_id=crisis.assignee_id, assignee_role="psychologist", route="psych_support",
            flags=crisis.flags, trace=trace, webhook=webhook,
        )
        return
    # The case was opened before it was a crisis (from triage's first decision, or a person raised it to
    # crisis since): mark it a crisis, bring in a psychologist — the on-call one unless one was named —
    # and tell them now. Whatever route made the crisis, the same happens.
    assignee = await crisis_psychologist(staff=staff, repo=repo, proposed=crisis.assignee_id)

    def apply(case: Case, _: dict[str, Any]) -> None:
        case.crisis = True
        if ev.SEVERITIES.index(crisis.severity) > ev.SEVERITIES.index(case.severity):
            case.severity = crisis.severity
        if assignee and not case.is_resolved and case.assignee_id != assignee:
            case.assign(assignee_id=assignee, assignee_role="psychologist", by=None, at=_now())

    mutation = await mutate_case(repo=repo, case_id=case_id, expected_version=None, apply=apply, trace=trace)
    if mutation.case.is_resolved:
        return
    if assignee:
        await notify(feed=feed, staff_id=assignee, kind="crisis", case_id=case_id,
                     notification_id=f"crisis:{case_id}:{assignee}:{event.id}", webhook=webhook,
                     severity=mutation.case.severity)
    else:
        for coordinator in await coordinators(staff=staff):
            await notify(feed=feed, staff_id=coordinator, kind="crisis_unassigned", case_id=case_id,
                         notification_id=f"crisis_unassigned:{case_id}:{coordinator}:{event.id}", webhook=webhook,
                         severity=mutation.case.severity)


# --- need-to-know -----------------------------------------------------------------------------------


class NeedToKnow(Problem):
    """403 for a case the caller may not open; names the way to read it with a stated reason."""

    def __init__(self, case_id: str) -> None:
        super().__init__(403, "this case is open to its assignee, its team in its unit and the coordinator; "
                              "to read it, break the glass with a stated reason",
                         type_="https://tongpin.dev/problems/need-to-know", case_id=case_id,
                         break_glass=f"/cases/{case_id}/break-glass")


async def case_for(
    *, repo: CaseRepository, staff: StaffRepository, notes: NoteRepository, case_id: str, by: Principal
) -> dict[str, Any]:
    """The case, if the caller may open it (coordinator, assignee, or its team in its unit); 404 or 403."""
    doc = await repo.get_case(case_id)
    if doc is None:
        raise NotFound("case", case_id)
    unit = await staff_unit(staff=staff, by=by)
    if case_access(doc, staff_id=by.subject, roles=by.roles, unit=unit) is None:
        await notes.record_denial({"_id": _new_id("denial"), "what": "case", "case_id": case_id,
                                   "subject": by.subject, "roles": sorted(by.roles), "at": _now()})
        log.warning("case.access_refused", case_id=case_id, subject=by.subject, roles=sorted(by.roles))
        raise NeedToKnow(case_id)
    return doc


async def staff_unit(*, staff: StaffRepository, by: Principal) -> str | None:
    """The caller's unit in the staff directory (None for staff without one, or not in the directory)."""
    member = await staff.get(by.subject)
    return member.get("unit") if member else None


async def break_glass(
    *, repo: CaseRepository, glass: BreakGlassRepository, staff: StaffRepository, feed: NotificationRepository,
    case_id: str, reason: str, by: Principal, webhook: bool,
) -> dict[str, Any]:
    """Read a case one may not open: the reason is recorded, the coordinators are told (without it)."""
    doc = await repo.get_case(case_id)
    if doc is None:
        raise NotFound("case", case_id)
    at = _now()
    read_id = _new_id("glass")
    await glass.insert({"_id": read_id, "case_id": case_id, "staff_id": by.subject, "roles": sorted(by.roles),
                        "reason": reason, "at": at, "month": at.strftime("%Y-%m")})
    log.warning("case.break_glass", case_id=case_id, staff_id=by.subject, read_id=read_id)
    for coordinator in await coordinators(staff=staff):
        await notify(feed=feed, staff_id=coordinator, kind="break_glass", case_id=case_id,
                     notification_id=f"break_glass:{read_id}:{coordinator}", webhook=webhook,
                     reader_id=by.subject, read_id=read_id, at=at)
    return doc


async def break_glass_summary(*, glass: BreakGlassRepository) -> dict[str, Any]:
    """How many cases were read through the glass, per month (counts only)."""
    months = Counter(await glass.months())
    return {"total": sum(months.values()),
            "by_month": [{"month": month, "reads": count} for month, count in sorted(months.items())]}


# --- case commands ----------------------------------------------------------------------------------


async def assign_case(
    *, repo: CaseRepository, staff: StaffRepository, feed: NotificationRepository, case_id: str, version: int,
    assignee_id: str, by: Principal, trace: Trace, webhook: bool,
) -> Mutation:
    """Assign or reassign a case to an active case worker."""
    member = await staff.get(assignee_id)
    role = _case_role(member)
    if member is None or not member.get("active", True) or role is None:
        raise Invalid("assignee_id", f"{assignee_id!r} is not an active political worker, psychologist or coordinator")

    def apply(case: Case, _: dict[str, Any]) -> None:
        case.assign(assignee_id=assignee_id, assignee_role=role, by=by.subject, at=_now())  # type: ignore[arg-type]

    mutation = await mutate_case(repo=repo, case_id=case_id, expected_version=version, apply=apply, trace=trace)
    await _notify_assignments(feed=feed, mutation=mutation, webhook=webhook)
    return mutation


async def reply(
    *, repo: CaseRepository, case_id: str, version: int, text: str, channel_id: str | None, by: Principal,
    trace: Trace,
) -> tuple[Mutation, str]:
    """Answer online: the reply goes to intake to deliver (reply.requested), carrying no raiser identity.

    It goes to the channel a concern of the case came from (the first concern's by default); intake
    posts it on the anonymous thread when that concern came with a receipt. Any other channel is refused.
    """
    reply_id = _new_id("reply")
    at = _now()
    current = await repo.get_case(case_id)
    if current is None:
        raise NotFound("case", case_id)
    origins = await reply_targets(repo=repo, case_doc=current)
    chosen = channel_id or current.get("channel_id") or next(iter(origins), None)
    if chosen not in origins:
        raise Invalid("channel_id", "a reply goes to the channel one of the case's concerns came from: "
                      + ", ".join(sorted(origins)))
    target = {"channel_id": chosen, "concern_id": origins[chosen]}

    def apply(case: Case, doc: dict[str, Any]) -> dict[str, Any]:
        case.record_reply(at=at, reply_id=reply_id)
        entry = {"reply_id": reply_id, "staff_id": by.subject, "staff_name": by.name, "text": text,
                 "channel_id": target["channel_id"], "at": at}
        return {"$push": {"dialogue": entry}}

    def requested(case: Case) -> list[ev.EventData]:
        return [ev.ReplyRequested(reply_id=reply_id, case_id=case.case_id, concern_id=target["concern_id"],
                                  channel_id=target["channel_id"], staff_id=by.subject, text=text, requested_at=at)]

    mutation = await mutate_case(repo=repo, case_id=case_id, expected_version=version, apply=apply, trace=trace,
                                 extra_events=requested)
    log.info("case.replied", case_id=case_id, reply_id=reply_id, staff_id=by.subject)
    return mutation, reply_id


async def reply_targets(*, repo: CaseRepository, case_doc: Mapping[str, Any]) -> dict[str, str]:
    """Channel id -> the first of the case's concerns that came from it: where a reply may go."""
    stored = {c["_id"]: c for c in await repo.concerns(case_doc["concern_ids"])}
    targets: dict[str, str] = {}
    for concern_id in case_doc["concern_ids"]:
        concern = stored.get(concern_id, {})
        channel = next((part.get("channel_id") for part in (concern.get("raised"), concern.get("decision"),
                                                             concern.get("crisis")) if part), None)
        if concern_id == case_doc["concern_ids"][0]:
            channel = channel or case_doc.get("channel_id")
        if channel:
            targets.setdefault(str(channel), concern_id)
    return targets


async def schedule_talk(
    *, repo: CaseRepository, case_id: str, version: int, scheduled_for: datetime, place: str,
    participants: list[str], staff_ids: list[str], by: Principal, trace: Trace,
) -> tuple[Mutation, str]:
    """Book an offline talk (约谈): time in the future, place, participants."""
    at = _now()
    if scheduled_for <= at:
        raise Invalid("scheduled_for", "the talk must be scheduled in the future")
    talk_id = _new_id("talk")

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
    at = _now()
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
    at = _now()

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
    at = _now()

    def apply(case: Case, doc: dict[str, Any]) -> dict[str, Any]:
        if talk_id not in doc.get("talks", {}):
            raise NotFound("talk", talk_id)
        case.record_talk_held(talk_id=talk_id, outcome_code=outcome_code, at=at)
        return {"$set": {f"talks.{talk_id}.status": "held", f"talks.{talk_id}.held_at": at,
                         f"talks.{talk_id}.outcome_code": outcome_code}}

    return await mutate_case(repo=repo, case_id=case_id, expected_version=version, apply=apply, trace=trace)


async def resolve_case(
    *, repo: CaseRepository, case_id: str, version: int, method: ev.ResolutionMethod, outcome_code: ResolutionOutcome,
    trace: Trace,
) -> Mutation:
    """Resolve, saying how (answered_online, resolved_offline, by_committee) and with what outcome."""

    def apply(case: Case, _: dict[str, Any]) -> dict[str, Any]:
        case.resolve(method=method, outcome_code=outcome_code, at=_now())
        return {"$set": {"overdue": False}}

    return await mutate_case(repo=repo, case_id=case_id, expected_version=version, apply=apply, trace=trace)


async def reopen_case(
    *, repo: CaseRepository, case_id: str, version: int, reason_code: ReopenReason, trace: Trace
) -> Mutation:
    """Open a resolved case again when the problem comes back."""

    def apply(case: Case, _: dict[str, Any]) -> dict[str, Any]:
        case.reopen(reason_code=reason_code, at=_now())
        return {"$set": {"overdue": False}}

    return await mutate_case(repo=repo, case_id=case_id, expected_version=version, apply=apply, trace=trace)


async def record_feedback(
    *, repo: CaseRepository, case_id: str, version: int, rating: int, comment: str | None, by: Principal,
    trace: Trace,
) -> Mutation:
    """Keep the helped person's feedback (a rating, and optionally their words)."""
    entry = {"rating": rating, "comment": comment, "recorded_by": by.subject, "at": _now()}

    def apply(case: Case, _: dict[str, Any]) -> dict[str, Any]:
        return {"$push": {"feedback": entry}}

    return await mutate_case(repo=repo, case_id=case_id, expected_version=version, apply=apply, trace=trace)


# --- escalation to the committee --------------------------------------------------------------------


async def escalate(
    *, repo: CaseRepository, staff: StaffRepository, feed: NotificationRepository, case_id: str, version: int,
    material: EscalationMaterial, by: Principal, trace: Trace, webhook: bool,
) -> tuple[Mutation, str]:
    """Put the case before the committee with its written material."""
    escalation_id = _new_id("esc")
    at = _now()

    def apply(case: Case, _: dict[str, Any]) -> dict[str, Any]:
        case.escalate(escalation_id=escalation_id, at=at)
        entry = {"escalation_id": escalation_id, "material": material.model_dump(), "prepared_by": by.subject,
                 "prepared_at": at, "decision": None, "done_at": None, "decision_overdue": False}
        return {"$set": {f"escalations.{escalation_id}": entry}}

    mutation = await mutate_case(repo=repo, case_id=case_id, expected_version=version, apply=apply, trace=trace)
    for member in await staff.find({"roles": "committee_member", "active": True}):
        await notify(feed=feed, staff_id=member["_id"], kind="escalation", case_id=case_id,
                     notification_id=f"escalation:{escalation_id}:{member['_id']}", webhook=webhook,
                     escalation_id=escalation_id)
    return mutation, escalation_id


async def escalation_of(*, repo: CaseRepository, escalation_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The case and the escalation entry, or 404."""
    doc = await repo.case_with_escalation(escalation_id)
    if doc is None or escalation_id not in doc.get("escalations", {}):
        raise NotFound("escalation", escalation_id)
    return doc, doc["escalations"][escalation_id]


def material_html(*, case_doc: Mapping[str, Any], entry: Mapping[str, Any], lang: str) -> str:
    """The printable written material, with the committee's decision once there is one."""
    decision = Decision.model_validate(entry["decision"]) if entry.get("decision") else None
    return render_material_html(
        material=EscalationMaterial.model_validate(entry["material"]), case_ref=str(case_doc["_id"]),
        lang="en" if lang == "en" else "zh", prepared_at=entry.get("prepared_at"), decision=decision,
    )


async def decide(
    *, repo: CaseRepository, feed: NotificationRepository, escalation_id: str, version: int,
    decision_code: CommitteeDecision, decided: str, actor_kind: str, actor_id: str, due_by: datetime | None,
    by: Principal, trace: Trace, webhook: bool,
) -> Mutation:
    """Record the committee's decision: what, who carries it out, and by when."""
    doc, _ = await escalation_of(repo=repo, escalation_id=escalation_id)
    at = _now()
    if due_by is not None and due_by < at:
        raise Invalid("due_by", "the deadline must not be in the past")
    decision = Decision(escalation_id=escalation_id, decision_code=decision_code, decided=decided,
                        actor_kind=actor_kind, actor_id=actor_id, decided_by=by.subject,  # type: ignore[arg-type]
                        decided_at=at, due_by=due_by)

    def apply(case: Case, _: dict[str, Any]) -> dict[str, Any]:
        case.record_decision(escalation_id=escalation_id, decision_code=decision_code, due_by=due_by, at=at)
        return {"$set": {f"escalations.{escalation_id}.decision": decision.model_dump()}}

    mutation = await mutate_case(repo=repo, case_id=doc["_id"], expected_version=version, apply=apply, trace=trace)
    told = {mutation.case.assignee_id, actor_id if actor_kind == "staff" else None} - {None}
    for staff_id in sorted(str(s) for s in told):
        await notify(feed=feed, staff_id=staff_id, kind="decision", case_id=doc["_id"],
                     notification_id=f"decision:{escalation_id}:{staff_id}", webhook=webhook,
                     escalation_id=escalation_id, decision_code=decision_code)
    return mutation


async def complete_decision(*, repo: CaseRepository, escalation_id: str, version: int, trace: Trace) -> Mutation:
    """The decision has been carried out."""
    doc, entry = await escalation_of(repo=repo, escalation_id=escalation_id)
    if entry.get("decision") is None:
        raise Conflict(f"escalation {escalation_id} has no decision yet")

    def apply(case: Case, _: dict[str, Any]) -> dict[str, Any]:
        return {"$set": {f"escalations.{escalation_id}.done_at": _now(),
                         f"escalations.{escalation_id}.decision_overdue": False}}

    return await mutate_case(repo=repo, case_id=doc["_id"], expected_version=version, apply=apply, trace=trace)


def escalation_board_item(*, case_doc: Mapping[str, Any], entry: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """One row of the committee's board."""
    decision = entry.get("decision")
    due_by = decision.get("due_by") if decision else None
    overdue = bool(decision and not entry.get("done_at") and due_by is not None and now > due_by)
    return {
        "escalation_id": entry["escalation_id"], "case_id": case_doc["_id"], "case_state": case_doc["state"],
        "case_version": case_doc["version"], "category": case_doc["category"], "severity": case_doc["severity"],
        "unit": case_doc.get("unit"), "subject": entry["material"]["subject"], "prepared_at": entry["prepared_at"],
        "decision_code": decision.get("decision_code") if decision else None, "due_by": due_by,
        "done_at": entry.get("done_at"), "decision_overdue": overdue,
        "status": "open" if decision is None else ("done" if entry.get("done_at") else "decided"),
    }


# --- sealed notes ---------------------------------------------------------------------------------


async def write_note(
    *, repo: CaseRepository, notes: NoteRepository, keyring: KeyRing | None, case_id: str, text: str, by: Principal
) -> dict[str, Any]:
    """Seal a note under the current key; only ciphertext is stored and nothing of it is logged."""
    if keyring is None:
        raise Problem(503, "sealed notes are not configured (TONGPIN_SEALED_NOTE_KEYS)")
    if await repo.get_case(case_id) is None:
        raise NotFound("case", case_id)
    group = author_group_for(by.roles)
    if group is None:
        raise Problem(403, "only psychologists, political workers and the coordinator write sealed notes")
    note_id = _new_id("note")
    sealed = keyring.encrypt(plaintext=text, note_id=note_id, case_id=case_id, author_group=group)
    document = {"_id": note_id, "case_id": case_id, "author_id": by.subject, "author_group": group,
                "created_at": _now(), "sealed": sealed}
    await notes.insert(document)
    log.info("note.sealed", note_id=note_id, case_id=case_id, author_group=group, kid=sealed["kid"])
    return {k: v for k, v in document.items() if k != "sealed"}


async def read_note(
    *, notes: NoteRepository, keyring: KeyRing | None, case_id: str, note_id: str, by: Principal
) -> dict[str, Any]:
    """Open a note for a reader its author's group admits; every read and every refusal is recorded."""
    doc = await notes.get(note_id)
    if doc is None or doc["case_id"] != case_id:
        raise NotFound("note", note_id)
    at = _now()
    if not can_read_note(reader_roles=by.roles, note_author_group=doc["author_group"]):
        await notes.record_denial({"_id": _new_id("denial"), "what": "sealed_note", "note_id": note_id,
                                   "case_id": case_id, "subject": by.subject, "roles": sorted(by.roles), "at": at})
        log.warning("note.read_refused", note_id=note_id, case_id=case_id, subject=by.subject,
                    roles=sorted(by.roles))
        raise Problem(403, "this note is sealed to its author's role group")
    if keyring is None:
        raise Problem(503, "sealed notes are not configured (TONGPIN_SEALED_NOTE_KEYS)")
    try:
        text = keyring.decrypt(sealed=doc["sealed"], note_id=note_id, case_id=case_id,
                               author_group=doc["author_group"])
    except NoteUnreadable as exc:
        log.error("note.unreadable", note_id=note_id, error=type(exc).__name__)
        raise Problem(500, "the note cannot be opened with the configured keys") from exc
    await notes.record_read({"_id": _new_id("read"), "note_id": note_id, "case_id": case_id, "reader_id": by.subject,
                             "reader_roles": sorted(by.roles), "at": at})
    log.info("note.read", note_id=note_id, case_id=case_id, reader_id=by.subject)
    return {**{k: v for k, v in doc.items() if k != "sealed"}, "text": text}


# --- time targets -----------------------------------------------------------------------------------


def overdue_query(now: datetime) -> dict[str, Any]:
    """Live cases whose first response or resolution has fallen due undone."""
    return {"state": {"$ne": "resolved"},
            "$or": [{"first_response_at": None, "first_response_due": {"$lt": now}},
                    {"resolution_due": {"$lt": now}}]}


async def flag_overdue(
    *, repo: CaseRepository, staff: StaffRepository, feed: NotificationRepository, now: datetime, webhook: bool
) -> list[str]:
    """Flag cases past a target and decisions past their deadline, telling who must act; returns flagged ids."""
    flagged: list[str] = []
    for doc in await repo.find_cases({**overdue_query(now), "overdue": {"$ne": True}}):
        kind = "first_response" if doc.get("first_response_at") is None and doc["first_response_due"] < now \
            else "resolution"
        await repo.flag(doc["_id"], {"overdue": True, "overdue_kind": kind, "overdue_flagged_at": now})
        told = [doc["assignee_id"]] if doc.get("assignee_id") else await coordinators(staff=staff)
        for staff_id in told:
            await notify(feed=feed, staff_id=staff_id, kind="overdue", case_id=doc["_id"],
                         notification_id=f"overdue:{doc['_id']}:{kind}:{staff_id}:{doc.get('reopen_count', 0)}",
                         webhook=webhook, target=kind, at=now)
        flagged.append(doc["_id"])
    for doc in await repo.find_cases({"state": "decided", "decision_due_by": {"$lt": now}}):
        for escalation_id, entry in doc.get("escalations", {}).items():
            decision = entry.get("decision")
            if (not decision or entry.get("done_at") or entry.get("decision_overdue")
                    or decision.get("due_by") is None or decision["due_by"] >= now):
                continue
            await repo.flag(doc["_id"], {f"escalations.{escalation_id}.decision_overdue": True})
            actors = {doc.get("assignee_id"), decision["actor_id"] if decision["actor_kind"] == "staff" else None}
            for staff_id in sorted(str(s) for s in actors - {None}):
                await notify(feed=feed, staff_id=staff_id, kind="decision_overdue", case_id=doc["_id"],
                             notification_id=f"decision_overdue:{escalation_id}:{staff_id}", webhook=webhook,
                             escalation_id=escalation_id, at=now)
            flagged.append(escalation_id)
    if flagged:
        log.info("sla.flagged", count=len(flagged))
    return flagged


async def send_talk_reminders(
    *, repo: CaseRepository, feed: NotificationRepository, now: datetime, lead: timedelta, webhook: bool
) -> list[str]:
    """Remind the staff of each talk coming up within the lead time (once per booked time)."""
    reminded: list[str] = []
    query = {"pending_talk_id": {"$ne": None}, "pending_talk_for": {"$lte": now + lead, "$gte": now}}
    for doc in await repo.find_cases(query):
        talk_id = doc["pending_talk_id"]
        talk = doc.get("talks", {}).get(talk_id)
        if talk is None or talk.get("reminded_for") == doc["pending_talk_for"]:
            continue
        await repo.flag(doc["_id"], {f"talks.{talk_id}.reminded_for": doc["pending_talk_for"]})
        for staff_id in sorted({*talk.get("staff_ids", []), *([doc["assignee_id"]] if doc.get("assignee_id") else [])}):
            await notify(feed=feed, staff_id=staff_id, kind="talk_reminder", case_id=doc["_id"],
                         notification_id=f"talk_reminder:{talk_id}:{doc['pending_talk_for'].isoformat()}:{staff_id}",
                         webhook=webhook, talk_id=talk_id, scheduled_for=doc["pending_talk_for"].isoformat(), at=now)
        reminded.append(talk_id)
    return reminded


@dataclass(frozen=True)
class _SlaCase:
    severity: Any
    opened_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None


async def sla_figures(*, repo: CaseRepository, targets: Targets, now: datetime) -> dict[str, Any]:
    """How often the time targets were met, overall and per severity."""
    docs = await repo.find_cases({}, {"severity": 1, "opened_at": 1, "first_response_at": 1, "resolved_at": 1})
    summary = summarise(cases=[_SlaCase(d["severity"], d["opened_at"], d.get("first_response_at"),
                                        d.get("resolved_at")) for d in docs], now=now, targets=targets)

    def tally(t: Any) -> dict[str, Any]:
        return {"cases": t.cases, "overdue": t.overdue,
                **{name: {"met": x.met, "missed": x.missed, "pending": x.pending, "rate": x.rate}
                   for name, x in (("first_response", t.first_response), ("resolution", t.resolution))}}

    return {
        "as_of": now, "overall": tally(summary.overall),
        "by_severity": {severity: tally(t) for severity, t in summary.by_severity.items()},
        "targets": {s: {"first_response_seconds": t.first_response.total_seconds(),
                        "resolution_seconds": t.resolution.total_seconds()} for s, t in targets.items()},
    }


def overdue_now(doc: Mapping[str, Any], *, now: datetime, targets: Targets) -> bool:
    """Whether a stored case is past a target right now."""
    return is_overdue(case=_SlaCase(doc["severity"], doc["opened_at"], doc.get("first_response_at"),
                                    doc.get("resolved_at")), now=now, targets=targets)


# --- staff directory and login -----------------------------------------------------------------------


def _staff_updated(doc: Mapping[str, Any], *, trace: Trace) -> CloudEvent:
    data = ev.StaffUpdated(staff_id=doc["_id"], roles=doc["roles"], active=doc.get("active", True),
                           on_leave=doc.get("on_leave", False), on_call=doc.get("on_call", False),
                           skills=doc.get("skills", []), updated_at=doc.get("updated_at") or _system_now())
    return _event(data, subject=doc["_id"], trace=trace)


async def create_staff(
    *, staff: StaffRepository, hasher: PasswordHasher, username: str, name: str, password: str, roles: list[str],
    skills: list[str], unit: str | None, on_call: bool, staff_id: str | None, trace: Trace,
) -> dict[str, Any]:
    """Add a staff account (argon2 hash of its password); staff.updated tells triage."""
    now = _system_now()
    doc = {
        "_id": staff_id or _new_id("staff"), "username": username, "name": name,
        "password_hash": hash_password(password, hasher=hasher), "roles": roles, "skills": skills, "unit": unit,
        "active": True, "on_leave": False, "leave_until": None, "on_call": on_call, "available": True,
        "created_at": now, "updated_at": now, "version": 1,
    }
    if not await staff.insert(doc, [_staff_updated(doc, trace=trace)]):
        raise Conflict(f"a staff account with username {username!r} or that id exists already", field="username")
    log.info("staff.created", staff_id=doc["_id"], roles=roles)
    return {k: v for k, v in doc.items() if k != "password_hash"}


async def update_staff(
    *, staff: StaffRepository, hasher: PasswordHasher, staff_id: str, changes: dict[str, Any],
    version: int | None, trace: Trace,
) -> dict[str, Any]:
    """Change a staff account (roles, skills, availability, leave, on-call, password)."""
    current = await staff.get(staff_id)
    if current is None:
        raise NotFound("staff member", staff_id)
    if version is not None and current["version"] != version:
        raise Conflict(f"the staff record is at version {current['version']}, not {version}",
                       current_version=current["version"])
    values = dict(changes)
    if "password" in values:
        values["password_hash"] = hash_password(values.pop("password"), hasher=hasher)
    values["updated_at"] = _system_now()
    merged = {**current, **values}
    update = {"$set": values, "$inc": {"version": 1}}
    doc = await staff.update(staff_id, update=update, events=[_staff_updated(merged, trace=trace)],
                             expected_version=current["version"])
    if doc is None:
        raise Conflict("the staff record was changed by someone else at the same time; reload and retry")
    log.info("staff.updated", staff_id=staff_id, fields=sorted(k for k in values if k != "password_hash"))
    return {k: v for k, v in doc.items() if k != "password_hash"}


@dataclass(frozen=True)
class LoginResult:
    """An issued token and who it is for."""

    token: str
    staff: dict[str, Any]


@dataclass(frozen=True)
class _Claim:
    key: str
    decision: ThrottleDecision
    before: dict[str, Any] | None


def _counter(doc: Mapping[str, Any] | None) -> ThrottleCounter:
    if doc is None:
        return ThrottleCounter()
    return ThrottleCounter(failures=max(0, int(doc.get("failures", 0))), last_at=doc.get("last_at"),
                           next_at=doc.get("next_at"))


async def _claim_attempt(*, staff: StaffRepository, throttle: LoginThrottle, key: str, scope: str) -> _Claim:
    """Count one attempt on a counter before its password is checked, or learn it must wait."""
    for _ in range(50):
        doc = await staff.throttle_counter(key)
        now = _system_now()
        decision = throttle.claim(_counter(doc), now=now, scope=scope)
        if not decision.allowed:
            return _Claim(key=key, decision=decision, before=doc)
        fields = {"failures": decision.counter.failures, "last_at": decision.counter.last_at,
                  "next_at": decision.counter.next_at}
        if await staff.save_throttle_counter(key, version=doc["version"] if doc else None, fields=fields):
            return _Claim(key=key, decision=decision, before=doc)
    # Another attempt on the same counter won every race: this one is refused, never let through uncounted.
    return _Claim(key=key, decision=ThrottleDecision(allowed=False, counter=ThrottleCounter(), retry_at=None),
                  before=None)


async def _release(*, staff: StaffRepository, claim: _Claim) -> None:
    """Give back a counted attempt that was refused by the other counter, so it costs nothing."""
    before = _counter(claim.before)
    version = (claim.before["version"] if claim.before else 0) + 1
    await staff.save_throttle_counter(claim.key, version=version, fields={
        "failures": before.failures, "last_at": before.last_at, "next_at": before.next_at})


async def login(
    *, staff: StaffRepository, hasher: PasswordHasher, throttle: LoginThrottle, issuer: TokenIssuer,
    username: str, password: str, client: str | None,
) -> LoginResult:
    """Check a password under the throttle; every attempt is recorded and logged (never the password).

    The attempt is counted on the account-and-client counter and on the account counter before the
    password is checked, so attempts sent together are decided one after another.
    """
    now = _system_now()

    async def record(outcome: str, staff_id: str | None = None) -> None:
        await staff.record_attempt({"_id": _new_id("login"), "username": username, "staff_id": staff_id,
                                    "outcome": outcome, "client": client, "at": now})
        log.info("auth.login", username=username, outcome=outcome, client=client, staff_id=staff_id)

    async def refuse(claim: _Claim, detail: str) -> Problem:
        await record("throttled")
        retry = claim.decision.retry_after(_system_now())
        return Problem(429, f"{detail}; try again in {retry} s", headers={"Retry-After": str(retry)},
                       retry_after=retry)

    by_client = await _claim_attempt(staff=staff, throttle=throttle, key=f"client:{client or '-'}:{username}",
                                     scope="client")
    if not by_client.decision.allowed:
        raise await refuse(by_client, "too many failed logins to this account from this address")
    by_account = await _claim_attempt(staff=staff, throttle=throttle, key=f"account:{username}", scope="account")
    if not by_account.decision.allowed:
        await _release(staff=staff, claim=by_client)
        raise await refuse(by_account, "too many failed logins to this account")
    account = await staff.by_username(username)
    if account is None:
        await asyncio.to_thread(verify_unknown_account, password=password)
        ok = False
    else:
        ok = await asyncio.to_thread(verify_password, password_hash=account["password_hash"], password=password,
                                     hasher=hasher)
    if not ok or account is None or not account.get("active", True):
        await record("failure", account["_id"] if account else None)
        raise Problem(401, "the username or password is wrong", headers={"WWW-Authenticate": "Bearer"})
    # The attempt was counted as a failure before the check: a success clears this client and refunds it.
    await staff.change_throttle_counter(by_client.key, {"$set": {"failures": 0, "next_at": None}})
    await staff.change_throttle_counter(by_account.key, {"$inc": {"failures": -1}})
    await record("success", account["_id"])
    token = issuer.issue(subject=account["_id"], roles=account["roles"], name=account["name"], now=now,
                         unit=account.get("unit"))
    return LoginResult(token=token, staff={k: v for k, v in account.items() if k != "password_hash"})


# --- broadcasts ------------------------------------------------------------------------------------


async def compose_broadcast(
    *, broadcasts: BroadcastRepository, title: str, text: str, channel_ids: list[str], by: Principal, trace: Trace
) -> dict[str, Any]:
    """An education task or notice for the chosen channels; intake delivers it (broadcast.requested)."""
    broadcast_id = _new_id("bc")
    now = _now()
    data = ev.BroadcastRequested(broadcast_id=broadcast_id, channel_ids=channel_ids, title=title, text=text,
                                 requested_by=by.subject, requested_at=now)
    doc = {"_id": broadcast_id, "title": title, "text": text, "channel_ids": channel_ids,
           "requested_by": by.subject, "requested_at": now}
    await broadcasts.insert(doc, [_event(data, subject=broadcast_id, trace=trace)])
    log.info("broadcast.requested", broadcast_id=broadcast_id, channels=len(channel_ids))
    return doc


async def record_broadcast_delivery(*, broadcasts: BroadcastRepository, delivered: ev.BroadcastDelivered) -> None:
    """Keep intake's report of one channel's delivery (the latest report per channel wins)."""
    key = f"{delivered.broadcast_id}:{delivered.channel_id}"
    existing = [d for d in await broadcasts.deliveries(delivered.broadcast_id) if d["_id"] == key]
    if existing and existing[0]["delivered_at"] > delivered.delivered_at:
        return
    await broadcasts.record_delivery({"_id": key, **delivered.model_dump(mode="python")})


async def broadcast_figures(*, broadcasts: BroadcastRepository, doc: Mapping[str, Any]) -> dict[str, Any]:
    """Delivery figures of one broadcast: per channel and in total."""
    deliveries = {d["channel_id"]: d for d in await broadcasts.deliveries(doc["_id"])}
    per_channel = [
        {"channel_id": channel, "outcome": deliveries[channel]["outcome"] if channel in deliveries else "pending",
         "attempts": deliveries.get(channel, {}).get("attempts", 0),
         "delivered_at": deliveries.get(channel, {}).get("delivered_at")}
        for channel in doc["channel_ids"]
    ]
    counts = {k: sum(1 for c in per_channel if c["outcome"] == k) for k in ("delivered", "failed", "pending")}
    return {"channels": len(per_channel), **counts, "per_channel": per_channel}


# --- webhook -----------------------------------------------------------------------------------------


def webhook_signature(*, secret: bytes, body: bytes) -> str:
    """HMAC-SHA256 of the body, as the X-Tongpin-Signature header carries it."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


async def deliver_webhooks(
    *, feed: NotificationRepository, http: httpx.AsyncClient, url: str, secret: bytes
) -> int:
    """Post pending notifications (ids and codes only) to the bureau's messaging app, signed."""
    sent = 0
    for doc in await feed.webhook_pending():
        payload = {"id": doc["_id"], "staff_id": doc["staff_id"], "kind": doc["kind"], "case_id": doc.get("case_id"),
                   "details": doc.get("details", {}), "created_at": doc["created_at"].isoformat()}
        body = json.dumps(payload, ensure_ascii=False, default=str).encode()
        try:
            response = await http.post(url, content=body, headers={
                "content-type": "application/json", "x-tongpin-signature": webhook_signature(secret=secret, body=body)})
            response.raise_for_status()
        except httpx.HTTPError as exc:
            log.warning("webhook.failed", notification_id=doc["_id"], error=type(exc).__name__)
            break
        await feed.webhook_done(doc["_id"], at=_now())
        sent += 1
    return sent
