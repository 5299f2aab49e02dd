"""Overrides: a staff member's correction to a decision, recorded and announced again, and their export."""

from __future__ import annotations

from typing import Any

from tongpin.shared import clock
from tongpin.shared.auth import Forbidden, Principal
from tongpin.shared.events import ConcernTriaged, EscalationRaised, make_event
from tongpin.shared.logging import get_logger
from tongpin.shared.problems import Conflict, Invalid, NotFound, Problem
from tongpin.triage.domain import assignee_role_for
from tongpin.triage.domain.routing import (
    SEVERITY_RANK,
    diff_override,
    is_crisis,
    may_choose_assignee,
    pick_assignee,
    role_on_route,
)
from tongpin.triage.handlers.common import utc
from tongpin.triage.handlers.staff import staff_pool
from tongpin.triage.repository import DecisionRepository, StaffRepository

log = get_logger(__name__)


async def override_decision(
    *, decisions: DecisionRepository, staff: StaffRepository, concern_id: str, principal: Principal,
    changes: dict[str, Any], reason: str, expected_version: int | None, correlation_id: str | None = None,
    traceparent: str | None = None,
) -> dict[str, Any]:
    """Apply a staff member's correction to a decision, record who, when, before, after and why, and re-announce it."""
    decision = await decisions.get(concern_id)
    if decision is None:
        raise NotFound("decision", concern_id)
    if expected_version is not None and decision["version"] != expected_version:
        raise Conflict("the decision changed meanwhile; reload and try again", current_version=decision["version"])
    requested = {k: v for k, v in changes.items() if v is not None}
    route = requested.get("route", decision["route"])
    if route != decision["route"]:
        requested["assignee_role"] = assignee_role_for(route)
    if "assignee_id" in requested:
        if not may_choose_assignee(principal.roles):
            raise Forbidden("assignee_id: only the centre coordinator chooses who takes a concern; "
                            "correct the category, severity or route instead")
        person = await staff.get(requested["assignee_id"])
        if person is None:
            raise Invalid("assignee_id", "no such staff member")
        if not person.get("active", True) or person.get("on_leave", False):
            raise Invalid("assignee_id", "on leave or inactive")
        role = role_on_route(route, person.get("roles", ()))
        if role is None:
            raise Invalid("assignee_id", f"{requested['assignee_id']} does not work the {route} route")
        requested["assignee_role"] = role
    merged = {**decision, **requested}
    if is_crisis(severity=merged["severity"], flags=merged.get("flags", [])) and not decision.get("crisis"):
        # Whatever makes a concern a crisis — rules, model or a person — it goes to a psychologist, the
        # on-call one first, unless the coordinator overriding named a psychologist themselves.
        route = requested["route"] = "psych_support"
        named = requested.get("assignee_id")
        person = await staff.get(named) if named else None
        if person is None or "psychologist" not in person.get("roles", ()):
            pool, load = await staff_pool(staff, "psychologist")
            requested["assignee_id"] = pick_assignee(pool, role="psychologist", load=load, crisis=True)
        requested["assignee_role"] = "psychologist"
    if route != decision["route"]:
        if requested.get("assignee_id") is None:
            pool, load = await staff_pool(staff, requested["assignee_role"])
            requested["assignee_id"] = pick_assignee(pool, role=requested["assignee_role"], load=load)
    diff = diff_override(decision, requested)
    if route != decision["route"] and "assignee_id" in requested and requested["assignee_id"] is None \
            and decision.get("assignee_id") is not None:
        diff.changes["assignee_id"] = (decision.get("assignee_id"), None)
    if diff.empty:
        raise Problem(422, "body: the override changes nothing", errors=[
            {"field": "body", "reason": "give a category, severity, route or assignee_id that differs"}])
    after = {**decision, **{k: v[1] for k, v in diff.changes.items()}}
    crisis = is_crisis(severity=after["severity"], flags=after.get("flags", []))
    # A person who gives chatter a category, a severity or a route says it is a concern after all.
    dismissed = bool(decision.get("dismissed")) and after["route"] == "dismiss" and not crisis \
        and after["category"] == "other"
    now = clock.now()  # business time: when staff corrected the decision
    record = {
        "by": principal.subject, "by_name": principal.name, "at": now, "reason": reason,
        "before": {k: v[0] for k, v in diff.changes.items()}, "after": {k: v[1] for k, v in diff.changes.items()},
        "version": decision["version"] + 1,
    }
    triaged = ConcernTriaged(
        concern_id=concern_id, channel_id=after["channel_id"], channel_kind=after["channel_kind"], unit=after["unit"],
        about_officer_id=after["about_officer_id"], category=after["category"], severity=after["severity"],
        flags=after["flags"], route=after["route"], assignee_role=after["assignee_role"],
        assignee_id=after["assignee_id"], ruleset_version=after["ruleset_version"],
        model_version=after.get("model_version"), judgment_version=after.get("judgment_version"),
        rule_ids=after["rule_ids"], crisis=crisis, dismissed=dismissed, overridden=True, theme_id=after.get("theme_id"),
        triaged_at=now, raised_at=after.get("raised_at"),
    )
    events = []
    if crisis and not decision.get("crisis"):
        events.append(make_event(EscalationRaised(
            concern_id=concern_id, channel_id=after["channel_id"], channel_kind=after["channel_kind"],
            unit=after["unit"], about_officer_id=after["about_officer_id"] or after.get("subject_officer_id"),
            category=after["category"], severity=after["severity"], flags=after["flags"],
            assignee_id=after["assignee_id"], raised_at=now,
        ), subject=concern_id, correlationid=correlation_id, traceparent=traceparent))
    events.append(make_event(triaged, subject=concern_id, correlationid=correlation_id, traceparent=traceparent))
    fields = {k: v[1] for k, v in diff.changes.items()}
    fields |= {"severity_rank": SEVERITY_RANK[after["severity"]], "crisis": crisis, "dismissed": dismissed,
               "overridden": True,
               "triaged_at": now, "open": after["route"] != "dismiss" and not after.get("merged_into")}
    update = {"$set": fields, "$push": {"overrides": record}}
    if not await decisions.update_versioned(concern_id, version=decision["version"], update=update, events=events):
        raise Conflict("the decision changed meanwhile; reload and try again")
    if "assignee_id" in diff.changes or "route" in diff.changes:
        await staff.reassign_work(concern_id, assignee_id=after["assignee_id"],
                                  open_=after["route"] != "dismiss" and after["assignee_id"] is not None)
    log.info("triage.overridden", concern_id=concern_id, by=principal.subject, fields=sorted(diff.changes))
    updated = await decisions.get(concern_id)
    assert updated is not None
    return updated


def overrides_as_rows(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Override records flattened for export: one row per override, before and after side by side."""
    rows = []
    for doc in docs:
        record = doc["overrides"]
        row: dict[str, Any] = {
            "concern_id": doc["_id"], "overridden_at": utc(record["at"]).isoformat(), "by": record["by"],
            "reason": record["reason"], "ruleset_version": doc.get("ruleset_version"),
            "rule_ids": " ".join(doc.get("rule_ids", [])), "channel_kind": doc.get("channel_kind"),
        }
        for key in ("category", "severity", "route", "assignee_id"):
            row[f"{key}_before"] = record["before"].get(key, "")
            row[f"{key}_after"] = record["after"].get(key, "")
        rows.append(row)
    return rows
