"""Triage's commands and event handlers; dependencies arrive as keyword parameters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tongpin.shared import clock
from tongpin.shared.auth import Forbidden, Principal
from tongpin.shared.envelope import CloudEvent, child_traceparent
from tongpin.shared.events import (
    CaseAssigned,
    CaseOpened,
    CaseReopened,
    CaseResolved,
    ConcernMerged,
    ConcernRaised,
    ConcernTriaged,
    EscalationRaised,
    StaffUpdated,
    make_event,
)
from tongpin.shared.logging import get_logger
from tongpin.shared.problems import Conflict, Invalid, NotFound, Problem
from tongpin.triage.domain import Classification, RuleSet, assignee_role_for
from tongpin.triage.domain.judgment import Judgment, judge, judgment_version
from tongpin.triage.domain.model import Model
from tongpin.triage.domain.routing import (
    SEVERITY_RANK,
    StaffMember,
    diff_override,
    is_crisis,
    joins_cluster,
    may_choose_assignee,
    pick_assignee,
    role_on_route,
    subject_officer,
    theme_id_for,
)
from tongpin.triage.judgments import ModelBook, RuleBook
from tongpin.triage.repository import (
    ClusterRepository,
    DecisionRepository,
    StaffRepository,
    ThemeRepository,
)
from tongpin.triage.settings import TriageSettings

log = get_logger(__name__)

# Categories that say nothing about a unit's climate, so they never make a theme.
NO_THEME = frozenset({"other", "praise"})


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- concerns ----------------------------------------------------------------------------------


def _judge_safely(text: str, channel_kind: str, ruleset: RuleSet, model: Model | None) -> Judgment:
    try:
        return judge(text, channel_kind, ruleset, model)
    except Exception as exc:  # a decision for every concern, whatever its text
        log.warning("triage.judge_failed", error=repr(exc))
        fallback = Classification(
            category="other", severity="low", flags=(), route="answer_online", dismissed=False, crisis=False,
            rule_ids=(), ruleset_version=ruleset.version, explanation=("文本无法自动研判，请人工查看",),
        )
        return Judgment(decision=fallback, rules=fallback, evidence=None,
                        version=judgment_version(ruleset.version, None))


async def _cluster(
    *, clusters: ClusterRepository, officer_id: str, concern_id: str, sent_at: datetime, window: timedelta,
    may_join: bool,
) -> str | None:
    """Join the officer's open cluster (returning its first concern) or start one (returning None)."""
    for _ in range(5):
        current = await clusters.get(officer_id)
        if current is not None and concern_id in current.get("concern_ids", ()):
            primary = current["primary_concern_id"]
            return None if primary == concern_id else primary
        if may_join and joins_cluster(current, concern_id=concern_id, sent_at=sent_at, window=window):
            assert current is not None
            if await clusters.join(officer_id, primary=current["primary_concern_id"], concern_id=concern_id,
                                   at=sent_at):
                return str(current["primary_concern_id"])
            continue
        if current is not None and current.get("open") and not may_join:
            return None  # a crisis does not displace the open cluster, and does not join it
        previous = current["primary_concern_id"] if current is not None else None
        if await clusters.start(officer_id, concern_id=concern_id, at=sent_at, previous=previous):
            return None
    log.warning("triage.cluster_contended", officer_id=officer_id, concern_id=concern_id)
    return None


async def _theme(
    *, decisions: DecisionRepository, themes: ThemeRepository, settings: TriageSettings, unit: str, category: str,
    concern_id: str, officer_id: str, at: datetime,
) -> tuple[str | None, list[str]]:
    """The theme this concern belongs to, if its category is rising across enough officers of its unit."""
    since = at - timedelta(seconds=settings.theme_window_seconds)
    recent = await decisions.officers_by_unit_category(unit=unit, category=category, since=since)
    officers = {doc.get("subject_officer_id") for doc in recent if doc.get("subject_officer_id")} | {officer_id}
    if len(officers) < settings.theme_min_officers:
        return None, []
    existing = await themes.recent(unit=unit, category=category, since=since)
    theme_id = existing["_id"] if existing else theme_id_for(unit=unit, category=category, started_at=at)
    await themes.record(theme_id, unit=unit, category=category, at=at, officers=len(officers),
                        concerns=len(recent) + 1)
    return theme_id, [doc["_id"] for doc in recent if doc["_id"] != concern_id]


async def _pool(staff: StaffRepository, role: str | None) -> tuple[list[StaffMember], dict[str, int]]:
    if role is None:
        return [], {}
    docs = await staff.with_role(role)
    pool = [StaffMember(staff_id=d["_id"], roles=frozenset(d.get("roles", ())), active=d.get("active", True),
                        on_leave=d.get("on_leave", False), on_call=d.get("on_call", False)) for d in docs]
    return pool, await staff.open_load([m.staff_id for m in pool])


async def triage_concern(
    *, decisions: DecisionRepository, rulebook: RuleBook, modelbook: ModelBook, staff: StaffRepository,
    clusters: ClusterRepository, themes: ThemeRepository, settings: TriageSettings, event: CloudEvent,
    concern: ConcernRaised,
) -> bool:
    """Decide on a raised concern and announce it; the text is read here and never stored."""
    existing = await decisions.get(concern.concern_id)
    if existing is not None:
        # Redelivered after the decision was written: make sure its work item exists, nothing more.
        if existing.get("assignee_id") and not existing.get("merged_into"):
            await staff.add_work(concern.concern_id, assignee_id=existing["assignee_id"], at=existing["triaged_at"])
        return False
    ruleset = await rulebook.current()
    model = await modelbook.current()
    judgment = _judge_safely(concern.text, concern.channel_kind, ruleset, model)
    result = judgment.decision
    sent_at = _utc(concern.sent_at)
    now = clock.now()  # business time: when the concern was triaged
    officer = subject_officer(channel_kind=concern.channel_kind, about_officer_id=concern.about_officer_id,
                              author_member_id=concern.author_member_id, anonymous=concern.anonymous)
    crisis = is_crisis(severity=result.severity, flags=result.flags)
    merged_into: str | None = None
    if officer and result.route != "dismiss":
        merged_into = await _cluster(
            clusters=clusters, officer_id=officer, concern_id=concern.concern_id, sent_at=sent_at,
            window=timedelta(seconds=settings.cluster_window_seconds), may_join=not crisis,
        )
    role = assignee_role_for(result.route)
    assignee: str | None = None
    if merged_into is None:
        pool, load = await _pool(staff, role)
        assignee = pick_assignee(pool, role=role, load=load, crisis=crisis)
    theme_id: str | None = None
    backfill: list[str] = []
    if concern.unit and officer and not result.dismissed and result.category not in NO_THEME:
        theme_id, backfill = await _theme(
            decisions=decisions, themes=themes, settings=settings, unit=concern.unit, category=result.category,
            concern_id=concern.concern_id, officer_id=officer, at=sent_at,
        )
    triaged = ConcernTriaged(
        concern_id=concern.concern_id, channel_id=concern.channel_id, channel_kind=concern.channel_kind,
        unit=concern.unit, about_officer_id=concern.about_officer_id, category=result.category,  # type: ignore[arg-type]
        severity=result.severity, flags=list(result.flags), route=result.route,  # type: ignore[arg-type]
        assignee_role=role, assignee_id=assignee, ruleset_version=ruleset.version,  # type: ignore[arg-type]
        model_version=judgment.evidence.model_version if judgment.evidence else None,
        judgment_version=judgment.version,
        rule_ids=list(result.rule_ids), crisis=crisis, dismissed=result.dismissed, theme_id=theme_id, triaged_at=now,
        raised_at=sent_at,
    )
    trace = child_traceparent(event.traceparent)

    def wrap(data: Any) -> CloudEvent:
        return make_event(data, subject=concern.concern_id, correlationid=event.correlationid, traceparent=trace)

    events: list[CloudEvent] = []
    if crisis:
        # First in the outbox: the crisis fast path goes out before anything else about this concern.
        events.append(wrap(EscalationRaised(
            concern_id=concern.concern_id, channel_id=concern.channel_id, channel_kind=concern.channel_kind,
            unit=concern.unit, about_officer_id=concern.about_officer_id or officer, category=triaged.category,
            severity=triaged.severity, flags=triaged.flags, assignee_id=assignee, raised_at=now,
        )))
    if merged_into is not None:
        assert officer is not None
        events.append(wrap(ConcernMerged(concern_id=concern.concern_id, primary_concern_id=merged_into,
                                         about_officer_id=officer, unit=concern.unit, merged_at=now)))
    events.append(wrap(triaged))
    document = {
        "_id": concern.concern_id,
        **triaged.model_dump(exclude={"concern_id"}),
        "author_member_id": None if concern.anonymous else concern.author_member_id,
        "subject_officer_id": officer,
        "origin": concern.origin,
        "reasons": list(result.explanation),
        # The model's probabilities and strongest n-grams: shown only to roles that may read the message.
        "model_evidence": judgment.evidence.as_doc() if judgment.evidence else None,
        "merged_into": merged_into,
        "severity_rank": SEVERITY_RANK[result.severity],
        "raised_at": sent_at,
        "open": not result.dismissed and result.route != "dismiss" and merged_into is None,
        "overrides": [],
        "version": 1,
    }
    inserted = await decisions.insert_once(document, events)
    if inserted:
        if assignee is not None:
            await staff.add_work(concern.concern_id, assignee_id=assignee, at=now)
        if theme_id and backfill:
            await decisions.set_theme(backfill, theme_id)
        log.info("triage.decided", concern_id=concern.concern_id, category=result.category,
                 severity=result.severity, route=result.route, crisis=crisis, merged_into=merged_into,
                 assignee_id=assignee, ruleset_version=ruleset.version)
    return inserted


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
            pool, load = await _pool(staff, "psychologist")
            requested["assignee_id"] = pick_assignee(pool, role="psychologist", load=load, crisis=True)
        requested["assignee_role"] = "psychologist"
    if route != decision["route"]:
        if requested.get("assignee_id") is None:
            pool, load = await _pool(staff, requested["assignee_role"])
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


# --- the staff directory and case lifecycle ----------------------------------------------------


async def record_staff(*, staff: StaffRepository, data: StaffUpdated) -> None:
    """Keep the assignment pool in step with counselling's staff directory."""
    await staff.upsert_if_newer(data.staff_id, {
        "roles": list(data.roles), "active": data.active, "on_leave": data.on_leave, "on_call": data.on_call,
        "skills": list(data.skills), "updated_at": _utc(data.updated_at),
    })


async def link_case(*, staff: StaffRepository, decisions: DecisionRepository, data: CaseOpened) -> None:
    """A case opened from a concern: the concern's work item becomes the case's, and the queue shows it open."""
    await staff.link_case(data.case_id, concern_id=data.concern_id, at=_utc(data.opened_at))
    latest = await decisions.record_progress(data.case_id, state="open", at=_utc(data.opened_at))
    # A later state that arrived first (events reorder) is applied now that the case's concern is known.
    await decisions.set_case_state(state=latest["state"], at=_utc(latest["at"]), concern_ids=[data.concern_id],
                                   extra={"case_id": data.case_id})


async def follow_case(*, decisions: DecisionRepository, case_id: str, state: str, at: datetime) -> None:
    """A talk was scheduled or held, or the case went to the committee: the queue shows where it stands."""
    latest = await decisions.record_progress(case_id, state=state, at=_utc(at))
    await decisions.set_case_state(state=latest["state"], at=_utc(latest["at"]), case_id=case_id)


async def follow_oversight(*, decisions: DecisionRepository, concern_id: str, status: str, at: datetime) -> None:
    """Oversight's item for a concern moved; once it is closed the concern has been handled."""
    await decisions.set_oversight_status(concern_id, status=status, at=_utc(at),
                                         close=status in ("resolved", "not_substantiated"))


async def move_case(*, staff: StaffRepository, data: CaseAssigned) -> None:
    """A case was (re)assigned: its load moves to the new assignee."""
    await staff.assign_case(data.case_id, assignee_id=data.assignee_id, at=_utc(data.assigned_at))


async def close_case(*, staff: StaffRepository, decisions: DecisionRepository, clusters: ClusterRepository,
                     data: CaseResolved) -> None:
    """A case was resolved: its load is released, its concerns leave the queue, the officer's cluster closes."""
    await staff.resolve_case(data.case_id, data.concern_ids)
    await decisions.set_open(data.concern_ids, open_=False)
    await decisions.record_progress(data.case_id, state="resolved", at=_utc(data.resolved_at))
    await decisions.set_case_state(state="resolved", at=_utc(data.resolved_at), concern_ids=data.concern_ids)
    await clusters.close_containing(data.concern_ids)


async def reopen_case(*, staff: StaffRepository, decisions: DecisionRepository, clusters: ClusterRepository,
                      data: CaseReopened) -> None:
    """A case was reopened: its load counts again and its concerns return to the queue."""
    concern_ids = await staff.reopen_case(data.case_id)
    await decisions.set_open(concern_ids, open_=True)
    await decisions.record_progress(data.case_id, state="reopened", at=_utc(data.reopened_at))
    await decisions.set_case_state(state="reopened", at=_utc(data.reopened_at), concern_ids=concern_ids)
    await clusters.reopen_primary(concern_ids)


def overrides_as_rows(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Override records flattened for export: one row per override, before and after side by side."""
    rows = []
    for doc in docs:
        record = doc["overrides"]
        row: dict[str, Any] = {
            "concern_id": doc["_id"], "overridden_at": _utc(record["at"]).isoformat(), "by": record["by"],
            "reason": record["reason"], "ruleset_version": doc.get("ruleset_version"),
            "rule_ids": " ".join(doc.get("rule_ids", [])), "channel_kind": doc.get("channel_kind"),
        }
        for key in ("category", "severity", "route", "assignee_id"):
            row[f"{key}_before"] = record["before"].get(key, "")
            row[f"{key}_after"] = record["after"].get(key, "")
        rows.append(row)
    return rows

