"""Cases from intake and triage: a concern's text and decision in either order, merges, overrides, crises."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tongpin.counselling.domain.case import Case
from tongpin.counselling.domain.roles import CASE_WORKER_ROLES
from tongpin.counselling.domain.sla import Targets, due_dates
from tongpin.counselling.handlers.common import Trace, business_now, case_role
from tongpin.counselling.handlers.mutation import catalogue_events, mutate_case
from tongpin.counselling.handlers.notifications import coordinators, notify, notify_assignments
from tongpin.counselling.repository.documents import case_document
from tongpin.counselling.repository.ports import CaseStore, NotificationStore, StaffStore
from tongpin.shared import events as ev
from tongpin.shared.envelope import CloudEvent
from tongpin.shared.logging import get_logger

log = get_logger(__name__)


async def record_concern_text(
    *, repo: CaseStore, staff: StaffStore, feed: NotificationStore, targets: Targets,
    event: CloudEvent, concern: ev.ConcernRaised, webhook: bool,
) -> None:
    """Keep a concern's text until its decision arrives (they may come in either order)."""
    raised = concern.model_dump(exclude={"text"})
    doc = await repo.merge_concern(concern.concern_id, {"text": concern.text, "raised": raised})
    await _open_case_when_complete(repo=repo, staff=staff, feed=feed, targets=targets, event=event, doc=doc,
                                   webhook=webhook)


async def record_decision(
    *, repo: CaseStore, staff: StaffStore, feed: NotificationStore, targets: Targets,
    event: CloudEvent, decision: ev.ConcernTriaged, webhook: bool,
) -> None:
    """Keep triage's decision; open the case once the text is here, or apply an override to it."""
    doc = await repo.merge_concern(decision.concern_id, {"decision": decision.model_dump(mode="python")})
    await _open_case_when_complete(repo=repo, staff=staff, feed=feed, targets=targets, event=event, doc=doc,
                                   webhook=webhook, override=decision if decision.overridden else None)


async def _open_case_when_complete(
    *, repo: CaseStore, staff: StaffStore, feed: NotificationStore, targets: Targets,
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
    *, repo: CaseStore, staff: StaffStore, feed: NotificationStore, targets: Targets,
    concern_id: str, channel_id: str, channel_kind: str, unit: str | None, about_officer_id: str | None,
    category: str, severity: str, crisis: bool, assignee_id: str | None, assignee_role: str | None, route: str,
    flags: Sequence[str], trace: Trace, webhook: bool, now: datetime | None = None,
) -> str:
    """Open the case of a concern (idempotent: its id comes from the concern) and assign it."""
    now = now or business_now()
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
        role = assignee_role or case_role(member) or "political_worker"
        case.assign(assignee_id=assignee_id, assignee_role=role, by=None, at=now)  # type: ignore[arg-type]
    recorded = case.pull_events()
    fields = case_document(case)
    # Stored beside the dialogue, as every case document has them.
    talks, escalations = fields.pop("talks"), fields.pop("escalations")
    document = {
        "_id": case_id, **fields, "channel_id": channel_id, "route": route, "flags": list(flags),
        "dialogue": [], "talks": talks, "escalations": escalations, "feedback": [],
    }
    created = await repo.insert_case(document, catalogue_events(case, recorded, trace=trace))
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


async def _apply_override(
    *, repo: CaseStore, staff: StaffStore, feed: NotificationStore, targets: Targets, case_id: str,
    decision: ev.ConcernTriaged, trace: Trace, webhook: bool,
) -> None:
    """Staff overrode triage: the case takes the new category, severity (and due dates) and assignee.

    The assignee is taken only if they are an active case worker; anyone else named (an auditor, a
    committee member) is ignored, as POST /cases/{id}/assign would refuse them.
    """
    member = await staff.get(decision.assignee_id) if decision.assignee_id else None
    if decision.assignee_id and (member is None or not member.get("active", True) or case_role(member) is None):
        log.warning("case.override_assignee_refused", case_id=case_id, assignee_id=decision.assignee_id)
        decision = decision.model_copy(update={"assignee_id": None})

    def apply(case: Case, _: dict[str, Any]) -> None:
        if case.is_resolved:
            return
        case.category, case.severity = decision.category, decision.severity
        due = due_dates(severity=decision.severity, opened_at=case.opened_at, targets=targets)
        case.first_response_due, case.resolution_due = due.first_response_due, due.resolution_due
        if decision.assignee_id:
            role = decision.assignee_role or case_role(member) or case.assignee_role or "political_worker"
            case.assign(assignee_id=decision.assignee_id, assignee_role=role, by=None, at=business_now())  # type: ignore[arg-type]

    mutation = await mutate_case(repo=repo, case_id=case_id, expected_version=None, apply=apply, trace=trace)
    await notify_assignments(feed=feed, mutation=mutation, webhook=webhook)


async def attach_concern(*, repo: CaseStore, case_id: str, concern_id: str, trace: Trace) -> None:
    """Attach a related concern to a case (attaching it twice changes nothing)."""

    def apply(case: Case, _: dict[str, Any]) -> None:
        case.attach_concern(concern_id=concern_id, at=business_now())

    doc = await repo.get_case(case_id)
    if doc is not None and concern_id in doc.get("concern_ids", []):
        await repo.merge_concern(concern_id, {"case_id": case_id})
        return
    await mutate_case(repo=repo, case_id=case_id, expected_version=None, apply=apply, trace=trace)
    await repo.merge_concern(concern_id, {"case_id": case_id})


async def record_merge(*, repo: CaseStore, event: CloudEvent, merge: ev.ConcernMerged) -> None:
    """A concern was merged into another: it joins the primary concern's case (now or when that opens)."""
    await repo.merge_concern(merge.concern_id, {"merged_into": merge.primary_concern_id})
    primary_case = f"case-{merge.primary_concern_id}"
    if await repo.get_case(primary_case) is not None:
        await attach_concern(repo=repo, case_id=primary_case, concern_id=merge.concern_id,
                             trace=Trace.following(event))


async def record_crisis(
    *, repo: CaseStore, staff: StaffStore, feed: NotificationStore, targets: Targets,
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
            case.assign(assignee_id=assignee, assignee_role="psychologist", by=None, at=business_now())

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


async def crisis_psychologist(*, staff: StaffStore, repo: CaseStore, proposed: str | None) -> str | None:
    """Who takes a crisis: the psychologist triage named if they still can, else the on-call one, else any."""
    if proposed:
        member = await staff.get(proposed)
        if member is not None and "psychologist" in member.get("roles", ()) and member.get("active", True) \
                and not member.get("on_leave", False):
            return proposed
    return (await pick_assignee(staff=staff, repo=repo, role="psychologist", on_call=True)
            or await pick_assignee(staff=staff, repo=repo, role="psychologist"))


async def pick_assignee(
    *, staff: StaffStore, repo: CaseStore, role: str, on_call: bool = False
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
