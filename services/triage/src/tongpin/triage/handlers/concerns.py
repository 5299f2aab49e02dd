"""Deciding on a raised concern: judgment, the officer's cluster, the unit's theme, an assignee, the events."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tongpin.shared import clock
from tongpin.shared.envelope import CloudEvent, child_traceparent
from tongpin.shared.events import ConcernMerged, ConcernRaised, ConcernTriaged, EscalationRaised, make_event
from tongpin.shared.logging import get_logger
from tongpin.triage.domain import Classification, RuleSet, assignee_role_for
from tongpin.triage.domain.judgment import Judgment, judge, judgment_version
from tongpin.triage.domain.model import Model
from tongpin.triage.domain.routing import (
    SEVERITY_RANK,
    is_crisis,
    joins_cluster,
    pick_assignee,
    subject_officer,
    theme_id_for,
)
from tongpin.triage.handlers.common import utc
from tongpin.triage.handlers.staff import staff_pool
from tongpin.triage.judgments import ModelBook, RuleBook
from tongpin.triage.repository import ClusterRepository, DecisionRepository, StaffRepository, ThemeRepository
from tongpin.triage.settings import TriageSettings

log = get_logger(__name__)

# Categories that say nothing about a unit's climate, so they never make a theme.
NO_THEME = frozenset({"other", "praise"})


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
    sent_at = utc(concern.sent_at)
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
        pool, load = await staff_pool(staff, role)
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
