"""Escalation to the Party committee: written material, the decision, its completion, the board."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tongpin.counselling.domain.case import Case
from tongpin.counselling.domain.escalation import Decision, EscalationMaterial, render_material_html
from tongpin.counselling.handlers.common import Trace, business_now, new_id
from tongpin.counselling.handlers.mutation import Mutation, mutate_case
from tongpin.counselling.handlers.notifications import notify
from tongpin.counselling.repository.ports import CaseStore, NotificationStore, StaffStore
from tongpin.shared.auth import Principal
from tongpin.shared.codes import CommitteeDecision
from tongpin.shared.problems import Conflict, Invalid, NotFound


async def escalate(
    *, repo: CaseStore, staff: StaffStore, feed: NotificationStore, case_id: str, version: int,
    material: EscalationMaterial, by: Principal, trace: Trace, webhook: bool,
) -> tuple[Mutation, str]:
    """Put the case before the committee with its written material."""
    escalation_id = new_id("esc")
    at = business_now()

    def apply(case: Case, _: dict[str, Any]) -> None:
        case.escalate(escalation_id=escalation_id, material=material, prepared_by=by.subject, at=at)

    mutation = await mutate_case(repo=repo, case_id=case_id, expected_version=version, apply=apply, trace=trace)
    for member in await staff.find({"roles": "committee_member", "active": True}):
        await notify(feed=feed, staff_id=member["_id"], kind="escalation", case_id=case_id,
                     notification_id=f"escalation:{escalation_id}:{member['_id']}", webhook=webhook,
                     escalation_id=escalation_id)
    return mutation, escalation_id


async def escalation_of(*, repo: CaseStore, escalation_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
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
    *, repo: CaseStore, feed: NotificationStore, escalation_id: str, version: int,
    decision_code: CommitteeDecision, decided: str, actor_kind: str, actor_id: str, due_by: datetime | None,
    by: Principal, trace: Trace, webhook: bool,
) -> Mutation:
    """Record the committee's decision: what, who carries it out, and by when."""
    doc, _ = await escalation_of(repo=repo, escalation_id=escalation_id)
    at = business_now()
    if due_by is not None and due_by < at:
        raise Invalid("due_by", "the deadline must not be in the past")
    decision = Decision(escalation_id=escalation_id, decision_code=decision_code, decided=decided,
                        actor_kind=actor_kind, actor_id=actor_id, decided_by=by.subject,  # type: ignore[arg-type]
                        decided_at=at, due_by=due_by)

    def apply(case: Case, _: dict[str, Any]) -> None:
        case.record_decision(decision=decision)

    mutation = await mutate_case(repo=repo, case_id=doc["_id"], expected_version=version, apply=apply, trace=trace)
    told = {mutation.case.assignee_id, actor_id if actor_kind == "staff" else None} - {None}
    for staff_id in sorted(str(s) for s in told):
        await notify(feed=feed, staff_id=staff_id, kind="decision", case_id=doc["_id"],
                     notification_id=f"decision:{escalation_id}:{staff_id}", webhook=webhook,
                     escalation_id=escalation_id, decision_code=decision_code)
    return mutation


async def complete_decision(*, repo: CaseStore, escalation_id: str, version: int, trace: Trace) -> Mutation:
    """The decision has been carried out."""
    doc, entry = await escalation_of(repo=repo, escalation_id=escalation_id)
    if entry.get("decision") is None:
        raise Conflict(f"escalation {escalation_id} has no decision yet")

    def apply(case: Case, _: dict[str, Any]) -> None:
        case.complete_decision(escalation_id=escalation_id, at=business_now())

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
