"""The oversight item: a problem families or supervision raised, with a public status and summary.

The item follows the counselling case opened from the same concern, and staff may still act on it.
Its statuses and the changes allowed (``ALLOWED_TRANSITIONS`` and ``FOLLOWS``; ``state_machine_markdown``
renders them for the API documentation):

==================  ============================================  =======================================
status              staff may change it to                        following its case
==================  ============================================  =======================================
received            under_review, in_progress, not_substantiated  work starts → in_progress;
                                                                  case resolved → resolved
under_review        in_progress, resolved, not_substantiated      work starts → in_progress;
                                                                  case resolved → resolved
in_progress         under_review, resolved, not_substantiated     case resolved → resolved
reopened            under_review, in_progress, resolved,          work starts → in_progress;
                    not_substantiated                             case resolved → resolved
resolved            not_substantiated                             case reopened → reopened
not_substantiated   (final)                                       (final: staff found it had no basis)
==================  ============================================  =======================================

"Work starts" is the case's first reply, talk booked or held, escalation or committee decision. A
change the table does not allow is refused with the changes that are allowed from the current status.
Staff closing an item (resolved or not_substantiated) give a public summary the raiser can read
(1..1000 characters); an item the case's resolution closed has none yet, and staff may add it once.
The summary is oversight's own text and never goes into an event. Every change bumps ``version``
for optimistic concurrency and records the event it causes, with the time it happened.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, cast, get_args

from tongpin.shared import events

RECEIVED: Final = "received"
UNDER_REVIEW: Final = "under_review"
IN_PROGRESS: Final = "in_progress"
RESOLVED: Final = "resolved"
NOT_SUBSTANTIATED: Final = "not_substantiated"
REOPENED: Final = "reopened"
STATUSES: tuple[str, ...] = get_args(events.OversightStatus)
CLOSED_STATUSES = frozenset({RESOLVED, NOT_SUBSTANTIATED})

# What staff may change a status to (PATCH /items/{id}).
ALLOWED_TRANSITIONS: dict[str, tuple[str, ...]] = {
    RECEIVED: (UNDER_REVIEW, IN_PROGRESS, NOT_SUBSTANTIATED),
    UNDER_REVIEW: (IN_PROGRESS, RESOLVED, NOT_SUBSTANTIATED),
    IN_PROGRESS: (UNDER_REVIEW, RESOLVED, NOT_SUBSTANTIATED),
    REOPENED: (UNDER_REVIEW, IN_PROGRESS, RESOLVED, NOT_SUBSTANTIATED),
    RESOLVED: (NOT_SUBSTANTIATED,),
    NOT_SUBSTANTIATED: (),
}

# What the case does to its item: work started, resolved or reopened -> (from statuses, to status).
WORK_STARTED, CASE_RESOLVED, CASE_REOPENED = "work_started", "case_resolved", "case_reopened"
FOLLOWS: dict[str, tuple[frozenset[str], str]] = {
    WORK_STARTED: (frozenset({RECEIVED, UNDER_REVIEW, REOPENED}), IN_PROGRESS),
    CASE_RESOLVED: (frozenset({RECEIVED, UNDER_REVIEW, IN_PROGRESS, REOPENED}), RESOLVED),
    CASE_REOPENED: (frozenset({RESOLVED}), REOPENED),
}

# Case events and what they do to the case's item.
CASE_CHANGES: dict[type[events.EventData], str] = {
    events.CaseReplied: WORK_STARTED, events.TalkScheduled: WORK_STARTED, events.TalkHeld: WORK_STARTED,
    events.CaseEscalated: WORK_STARTED, events.EscalationDecided: WORK_STARTED,
    events.CaseResolved: CASE_RESOLVED, events.CaseReopened: CASE_REOPENED,
}
_FOLLOW_WORDS = {WORK_STARTED: "work on the case starts", CASE_RESOLVED: "the case is resolved",
                 CASE_REOPENED: "the case is reopened"}


def state_machine_markdown() -> str:
    """The item's statuses and allowed changes as a Markdown table (for the API documentation)."""
    lines = ["| status | staff may change it to | following its case |", "|---|---|---|"]
    for status in STATUSES:
        follows = [f"{_FOLLOW_WORDS[change]} → {to}" for change, (sources, to) in FOLLOWS.items() if status in sources]
        lines.append(f"| `{status}` | {', '.join(f'`{s}`' for s in ALLOWED_TRANSITIONS[status]) or '(final)'} "
                     f"| {'; '.join(follows) or '—'} |")
    return "\n".join(lines)


SUMMARY_MAX = 1000
_ITEM_NAMESPACE = uuid.UUID("5d0e4c36-8f0b-4a53-9a53-3f3b0c1e7a11")


class IllegalStatusChange(ValueError):
    """A status change the transition table does not allow; names the changes that are allowed."""

    def __init__(self, current: str, requested: str) -> None:
        self.current = current
        self.requested = requested
        self.allowed = ALLOWED_TRANSITIONS.get(current, ())
        allowed = ", ".join(self.allowed) if self.allowed else "none (it is final)"
        super().__init__(f"cannot change status from {current} to {requested}; from {current} the allowed "
                         f"changes are: {allowed}")


class InvalidSummary(ValueError):
    """A public summary that is missing, blank or too long, or set on a closed item."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def item_id_for(concern_id: str) -> str:
    """A stable item id for a concern, so a redelivered triage opens the same item."""
    return f"oi-{uuid.uuid5(_ITEM_NAMESPACE, concern_id).hex}"


def opens_item(decision: events.ConcernTriaged) -> bool:
    """Whether a triage decision opens an oversight item: routed to oversight (from families or supervision)."""
    return decision.route == "oversight" and decision.channel_kind in ("families", "supervision")


def check_summary(text: str | None) -> str:
    """The summary unchanged if it has 1..1000 characters and is not blank, else InvalidSummary."""
    if text is None or not text.strip():
        raise InvalidSummary("a public summary is required")
    if len(text) > SUMMARY_MAX:
        raise InvalidSummary(f"a public summary has at most {SUMMARY_MAX} characters")
    return text


@dataclass(slots=True)
class OversightItem:
    """One oversight item; ``pending_events`` holds payloads the handler must publish (outbox)."""

    item_id: str
    concern_id: str
    channel_kind: str
    category: str
    unit: str | None
    status: str
    opened_at: datetime
    updated_at: datetime
    closed_at: datetime | None = None
    public_summary: str | None = None
    version: int = 1
    pending_events: list[events.EventData] = field(default_factory=list)

    @classmethod
    def open(
        cls,
        *,
        item_id: str,
        concern_id: str,
        channel_kind: str,
        category: str,
        at: datetime,
        unit: str | None = None,
    ) -> OversightItem:
        """A new item in status ``received``, recording ``oversight.item.opened``."""
        item = cls(
            item_id=item_id, concern_id=concern_id, channel_kind=channel_kind, category=category,
            unit=unit, status=RECEIVED, opened_at=at, updated_at=at,
        )
        item.pending_events.append(
            events.OversightItemOpened(
                item_id=item_id, concern_id=concern_id, channel_kind=cast(Any, channel_kind),
                category=cast(Any, category), unit=unit, status=RECEIVED, opened_at=at,
            )
        )
        return item

    @classmethod
    def from_decision(cls, decision: events.ConcernTriaged) -> OversightItem:
        """Open the item a triage decision routed to oversight."""
        return cls.open(
            item_id=item_id_for(decision.concern_id), concern_id=decision.concern_id,
            channel_kind=decision.channel_kind, category=decision.category, unit=decision.unit,
            at=decision.triaged_at,
        )

    @property
    def closed(self) -> bool:
        """Whether the item reached a final status."""
        return self.status in CLOSED_STATUSES

    def change_status(self, *, to: str, at: datetime, public_summary: str | None = None) -> None:
        """Staff move the item to a new public status; closing requires a public summary (kept if already set)."""
        if to not in ALLOWED_TRANSITIONS.get(self.status, ()):
            raise IllegalStatusChange(self.status, to)
        if to in CLOSED_STATUSES:
            self.public_summary = check_summary(public_summary if public_summary is not None else self.public_summary)
        elif public_summary is not None:
            self.public_summary = check_summary(public_summary)
        self._move(to, at=at)

    def follow_case(self, change: str, *, at: datetime) -> bool:
        """Follow the case (work started, resolved, reopened) at the time that happened; False if nothing moves."""
        allowed_from, to = FOLLOWS[change]
        if self.status not in allowed_from:
            return False
        self._move(to, at=at)
        return True

    def _move(self, to: str, *, at: datetime) -> None:
        if to in CLOSED_STATUSES:
            self.closed_at = at
            self.pending_events.append(events.OversightItemClosed(
                item_id=self.item_id, concern_id=self.concern_id, status=cast(Any, to), unit=self.unit, closed_at=at,
            ))
        else:
            self.closed_at = None
            self.pending_events.append(events.OversightItemUpdated(
                item_id=self.item_id, concern_id=self.concern_id, status=cast(Any, to), unit=self.unit,
                changed_at=at,
            ))
        self.status = to
        self.updated_at = max(self.updated_at, at)
        self.version += 1

    def write_summary(self, *, text: str, at: datetime) -> None:
        """Set or edit the public summary of an open item, or give a closed item the one it lacks (no event)."""
        if self.closed and self.public_summary is not None:
            raise InvalidSummary("the summary of a closed item is part of the record and cannot change")
        self.public_summary = check_summary(text)
        self.updated_at = max(self.updated_at, at)
        self.version += 1

    def take_events(self) -> list[events.EventData]:
        """Hand over and clear the recorded events."""
        taken, self.pending_events = self.pending_events, []
        return taken

    def public_view(self) -> dict[str, Any]:
        """What the raiser may see: status, summary and times, nothing about the officer."""
        return {
            "item_id": self.item_id,
            "status": self.status,
            "public_summary": self.public_summary,
            "opened_at": self.opened_at,
            "updated_at": self.updated_at,
            "closed_at": self.closed_at,
        }

    def to_document(self) -> dict[str, Any]:
        """The stored form (without pending events, which the handler writes to the outbox)."""
        return {
            "_id": self.item_id,
            "concern_id": self.concern_id,
            "channel_kind": self.channel_kind,
            "category": self.category,
            "unit": self.unit,
            "status": self.status,
            "public_summary": self.public_summary,
            "opened_at": self.opened_at,
            "updated_at": self.updated_at,
            "closed_at": self.closed_at,
            "version": self.version,
        }

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> OversightItem:
        """Rebuild an item from its stored form."""
        status = str(doc["status"])
        if status not in STATUSES:
            raise ValueError(f"unknown stored status {status!r}")
        return cls(
            item_id=str(doc["_id"]), concern_id=str(doc["concern_id"]),
            channel_kind=str(doc["channel_kind"]), category=str(doc["category"]), unit=doc.get("unit"),
            status=status, opened_at=doc["opened_at"], updated_at=doc["updated_at"],
            closed_at=doc.get("closed_at"), public_summary=doc.get("public_summary"),
            version=int(doc.get("version", 1)),
        )
