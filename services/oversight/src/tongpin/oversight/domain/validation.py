"""Acceptance checks for incoming events: right publisher, valid data, sensible order.

Each check returns a rejection reason code (snake_case) or None. Reasons in ``RETRYABLE`` mean
"not yet": at-least-once delivery with retries can reorder events, so a ``case.resolved`` may
arrive before its ``case.opened``; the consumer may retry those before dead-lettering.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from tongpin.shared import events
from tongpin.shared.envelope import CloudEvent

UNKNOWN_TYPE = "unknown_type"
TEXT_CARRYING = "text_carrying"
WRONG_SOURCE = "wrong_source"
INVALID_DATA = "invalid_data"
INCONSISTENT_TIMES = "inconsistent_times"
MISSING_UNIT = "missing_unit"
UNKNOWN_CASE = "unknown_case"
UNKNOWN_ESCALATION = "unknown_escalation"
UNKNOWN_ITEM = "unknown_item"
UNKNOWN_CONCERN = "unknown_concern"
DUPLICATE_CASE = "duplicate_case"
DUPLICATE_ESCALATION = "duplicate_escalation"
DUPLICATE_ITEM = "duplicate_item"

RETRYABLE = frozenset({UNKNOWN_CASE, UNKNOWN_ESCALATION, UNKNOWN_ITEM, UNKNOWN_CONCERN})

# Subject kinds the ordering checks know about.
CASE, ESCALATION, ITEM, CONCERN = "case", "escalation", "item", "concern"

_LATEST: dict[str, str] = {}
for _key, _cls in sorted(events.CATALOGUE.items(), key=lambda kv: kv[1].version):
    _LATEST[_cls.event_type] = _key


def routing_key_for(event_type: str) -> str | None:
    """The catalogue routing key for "case.resolved" or "case.resolved.v1", or None if unknown."""
    if event_type in events.CATALOGUE:
        return event_type
    return _LATEST.get(event_type)


def parse_data(event_type: str, data: Mapping[str, Any]) -> events.EventData:
    """Validate data against its type's model (ValueError for an unknown type or bad data)."""
    key = routing_key_for(event_type)
    if key is None:
        raise ValueError(f"unknown event type {event_type!r}")
    return events.data_model(key).model_validate(dict(data))


def rejection_reason(event: CloudEvent) -> str | None:
    """Why oversight must refuse this envelope, or None to accept it."""
    key = routing_key_for(event.type)
    if key is None or key != event.type:
        return UNKNOWN_TYPE
    model = events.data_model(key)
    if model.carries_text:
        return TEXT_CARRYING
    if event.source != f"tongpin/{model.publisher}":
        return WRONG_SOURCE
    try:
        data = model.model_validate(event.data)
    except ValidationError:
        return INVALID_DATA
    if model in COUNTED and getattr(data, "unit", None) is None:
        return MISSING_UNIT
    return consistency_reason(data)


def consistency_reason(data: events.EventData) -> str | None:
    """Internal contradictions in one payload (a case resolved before it opened), or None."""
    if isinstance(data, events.CaseResolved):
        if data.resolved_at < data.opened_at:
            return INCONSISTENT_TIMES
        if data.first_response_at is not None and not (
            data.opened_at <= data.first_response_at <= data.resolved_at
        ):
            return INCONSISTENT_TIMES
    if isinstance(data, events.CaseOpened):
        for due in (data.first_response_due, data.resolution_due):
            if due is not None and due < data.opened_at:
                return INCONSISTENT_TIMES
    return None


# Every event oversight counts must name its unit; without one it is refused, never counted as "no unit".
COUNTED: frozenset[type[events.EventData]] = frozenset(
    cls for cls in events.CATALOGUE.values() if not cls.carries_text and cls is not events.StaffUpdated
)


@dataclass(frozen=True, slots=True)
class Prerequisite:
    """A subject that must already be known before an event about it is accepted."""

    kind: str
    id: str
    reason: str


def prerequisites(data: events.EventData) -> list[Prerequisite]:
    """The subjects an event refers to that an earlier event must have introduced."""
    match data:
        case events.CaseAssigned() | events.CaseReplied() | events.TalkScheduled() | events.TalkHeld() | (
            events.CaseResolved() | events.CaseReopened() | events.CaseEscalated()
        ):
            return [Prerequisite(CASE, data.case_id, UNKNOWN_CASE)]
        case events.EscalationDecided():
            return [
                Prerequisite(CASE, data.case_id, UNKNOWN_CASE),
                Prerequisite(ESCALATION, data.escalation_id, UNKNOWN_ESCALATION),
            ]
        case events.OversightItemUpdated() | events.OversightItemClosed():
            return [Prerequisite(ITEM, data.item_id, UNKNOWN_ITEM)]
        case events.ConcernMerged():
            return [Prerequisite(CONCERN, data.primary_concern_id, UNKNOWN_CONCERN)]
    return []


def introduces(data: events.EventData) -> list[tuple[str, str]]:
    """The subjects an event makes known, as (kind, id), for later ordering checks."""
    match data:
        case events.CaseOpened():
            return [(CASE, data.case_id)]
        case events.CaseEscalated():
            return [(ESCALATION, data.escalation_id)]
        case events.OversightItemOpened():
            return [(ITEM, data.item_id)]
        case events.ConcernTriaged():
            return [(CONCERN, data.concern_id)]
    return []


_DUPLICATE = {CASE: DUPLICATE_CASE, ESCALATION: DUPLICATE_ESCALATION, ITEM: DUPLICATE_ITEM}


def ordering_reason(data: events.EventData, *, known: Collection[tuple[str, str]]) -> str | None:
    """Reject an event about a subject never introduced, or one introducing a subject twice.

    ``known`` holds the (kind, id) pairs already recorded; a re-triage of a known concern is fine.
    """
    for need in prerequisites(data):
        if (need.kind, need.id) not in known:
            return need.reason
    for kind, subject_id in introduces(data):
        if kind in _DUPLICATE and (kind, subject_id) in known:
            return _DUPLICATE[kind]
    return None


# The field holding when the thing an event reports happened, per event type.
OCCURRED_AT_FIELD: dict[str, str] = {
    "concern.raised": "sent_at", "member.joined": "joined_at", "member.left": "left_at",
    "roster.updated": "effective_at", "broadcast.delivered": "delivered_at",
    "concern.triaged": "triaged_at", "concern.merged": "merged_at", "escalation.raised": "raised_at",
    "case.opened": "opened_at", "case.assigned": "assigned_at", "reply.requested": "requested_at",
    "case.replied": "replied_at",
    "talk.scheduled": "scheduled_at", "talk.held": "held_at", "case.escalated": "escalated_at",
    "escalation.decided": "decided_at", "case.resolved": "resolved_at", "case.reopened": "reopened_at",
    "broadcast.requested": "requested_at", "oversight.item.opened": "opened_at",
    "oversight.item.updated": "changed_at", "oversight.item.closed": "closed_at",
    "staff.updated": "updated_at", "concern.read": "read_at", "concern.reading_overdue": "overdue_at",
}


def occurred_at(data: events.EventData) -> datetime:
    """When the thing an event reports happened (its domain time, not the envelope's)."""
    if isinstance(data, events.ConcernTriaged) and data.raised_at is not None:
        return data.raised_at  # a concern counts in the month it was raised, not the month it was read
    value = getattr(data, OCCURRED_AT_FIELD[data.event_type])
    assert isinstance(value, datetime)
    return value
