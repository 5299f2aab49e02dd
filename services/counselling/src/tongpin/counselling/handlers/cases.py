"""Case commands a person gives: assign, reply online, resolve, reopen, feedback."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tongpin.counselling.domain.case import Case
from tongpin.counselling.handlers.common import Trace, business_now, case_role, new_id
from tongpin.counselling.handlers.mutation import Mutation, mutate_case
from tongpin.counselling.handlers.notifications import notify_assignments
from tongpin.counselling.repository.ports import CaseStore, NotificationStore, StaffStore
from tongpin.shared import events as ev
from tongpin.shared.auth import Principal
from tongpin.shared.codes import ReopenReason, ResolutionOutcome
from tongpin.shared.logging import get_logger
from tongpin.shared.problems import Invalid, NotFound

log = get_logger(__name__)


async def assign_case(
    *, repo: CaseStore, staff: StaffStore, feed: NotificationStore, case_id: str, version: int,
    assignee_id: str, by: Principal, trace: Trace, webhook: bool,
) -> Mutation:
    """Assign or reassign a case to an active case worker."""
    member = await staff.get(assignee_id)
    role = case_role(member)
    if member is None or not member.get("active", True) or role is None:
        raise Invalid("assignee_id", f"{assignee_id!r} is not an active political worker, psychologist or coordinator")

    def apply(case: Case, _: dict[str, Any]) -> None:
        case.assign(assignee_id=assignee_id, assignee_role=role, by=by.subject, at=business_now())  # type: ignore[arg-type]

    mutation = await mutate_case(repo=repo, case_id=case_id, expected_version=version, apply=apply, trace=trace)
    await notify_assignments(feed=feed, mutation=mutation, webhook=webhook)
    return mutation


async def reply(
    *, repo: CaseStore, case_id: str, version: int, text: str, channel_id: str | None, by: Principal,
    trace: Trace,
) -> tuple[Mutation, str]:
    """Answer online: the reply goes to intake to deliver (reply.requested), carrying no raiser identity.

    It goes to the channel a concern of the case came from (the first concern's by default); intake
    posts it on the anonymous thread when that concern came with a receipt. Any other channel is refused.
    """
    reply_id = new_id("reply")
    at = business_now()
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


async def reply_targets(*, repo: CaseStore, case_doc: Mapping[str, Any]) -> dict[str, str]:
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


async def resolve_case(
    *, repo: CaseStore, case_id: str, version: int, method: ev.ResolutionMethod, outcome_code: ResolutionOutcome,
    trace: Trace,
) -> Mutation:
    """Resolve, saying how (answered_online, resolved_offline, by_committee) and with what outcome."""

    def apply(case: Case, _: dict[str, Any]) -> dict[str, Any]:
        case.resolve(method=method, outcome_code=outcome_code, at=business_now())
        return {"$set": {"overdue": False}}

    return await mutate_case(repo=repo, case_id=case_id, expected_version=version, apply=apply, trace=trace)


async def reopen_case(
    *, repo: CaseStore, case_id: str, version: int, reason_code: ReopenReason, trace: Trace
) -> Mutation:
    """Open a resolved case again when the problem comes back."""

    def apply(case: Case, _: dict[str, Any]) -> dict[str, Any]:
        case.reopen(reason_code=reason_code, at=business_now())
        return {"$set": {"overdue": False}}

    return await mutate_case(repo=repo, case_id=case_id, expected_version=version, apply=apply, trace=trace)


async def record_feedback(
    *, repo: CaseStore, case_id: str, version: int, rating: int, comment: str | None, by: Principal,
    trace: Trace,
) -> Mutation:
    """Keep the helped person's feedback (a rating, and optionally their words)."""
    entry = {"rating": rating, "comment": comment, "recorded_by": by.subject, "at": business_now()}

    def apply(case: Case, _: dict[str, Any]) -> dict[str, Any]:
        return {"$push": {"feedback": entry}}

    return await mutate_case(repo=repo, case_id=case_id, expected_version=version, apply=apply, trace=trace)
