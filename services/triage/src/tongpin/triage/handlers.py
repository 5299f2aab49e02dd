"""Triage's event handlers; dependencies arrive as parameters."""

from __future__ import annotations

from datetime import UTC, datetime

from tongpin.shared.envelope import CloudEvent, child_traceparent
from tongpin.shared.events import ConcernRaised, ConcernTriaged, make_event
from tongpin.triage.repository import DecisionRepository

SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}


async def triage_concern(*, repo: DecisionRepository, event: CloudEvent, concern: ConcernRaised) -> bool:
    """Decide on a raised concern and announce concern.triaged; the text itself is not kept."""
    now = datetime.now(UTC)
    decision = ConcernTriaged(
        concern_id=concern.concern_id, channel_id=concern.channel_id, channel_kind=concern.channel_kind,
        unit=concern.unit, about_officer_id=concern.about_officer_id, category="other", severity="low",
        route="answer_online", assignee_role="political_worker", ruleset_version=1, triaged_at=now,
    )
    triaged = make_event(decision, subject=concern.concern_id, correlationid=event.correlationid,
                         traceparent=child_traceparent(event.traceparent))
    document = {
        "_id": concern.concern_id,
        **decision.model_dump(exclude={"concern_id"}),
        "severity_rank": SEVERITY_RANK[decision.severity],
        "raised_at": concern.sent_at,
    }
    return await repo.insert_once(document, [triaged])
