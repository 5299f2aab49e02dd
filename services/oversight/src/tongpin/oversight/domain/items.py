"""The oversight item: a problem families or supervision raised, with a public status and summary.

Public statuses move ``received → under_review → in_progress → resolved``, and an item can be
found ``not_substantiated`` before work on it starts. ``resolved`` and ``not_substantiated`` are
final: they are what "13 found, 13 resolved" counts, so reopening would rewrite a published
figure (a new item is opened instead). Closing needs a public summary (1..1000 characters) that
the raiser can read; the summary is oversight's own text and never goes into an event. Every
change bumps ``version`` for optimistic concurrency and records the event it causes.
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
STATUSES: tuple[str, ...] = get_args(events.OversightStatus)
CLOSED_STATUSES = frozenset({RESOLVED, NOT_SUBSTANTIATED})

ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    RECEIVED: frozenset({UNDER_REVIEW, IN_PROGRESS, NOT_SUBSTANTIATED}),
    UNDER_REVIEW: frozenset({IN_PROGRESS, RESOLVED, NOT_SUBSTANTIATED}),
    IN_PROGRESS: frozenset({UNDER_REVIEW, RESOLVED}),
    RESOLVED: frozenset(),
    NOT_SUBSTANTIATED: frozenset(),
}

SUMMARY_MAX = 1000
_ITEM_NAMESPACE = uuid.UUID("5d0e4c36-8f0b-4a53-9a53-3f3b0c1e7a11")


class IllegalStatusChange(ValueError):
    """A status change the transition table does not allow."""

    def __init__(self, current: str, requested: str) -> None:
        super().__init__(f"cannot change status from {current} to {requested}")
        self.current = current
        self.requested = requested


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
        """Move to a new public status; closing requires a public summary (kept if already set)."""
        if to not in ALLOWED_TRANSITIONS.get(self.status, frozenset()):
            raise IllegalStatusChange(self.status, to)
        if to in CLOSED_STATUSES:
            summary = check_summary(public_summary if public_summary is not None else self.public_summary)
            self.public_summary = summary
            self.closed_at = at
            self.pending_events.append(
                events.OversightItemClosed(
                    item_id=self.item_id, concern_id=self.concern_id, status=cast(Any, to), closed_at=at,
                )
            )
        else:
            if public_summary is not None:
                self.public_summary = check_summary(public_summary)
            self.pending_events.append(
                events.OversightItemUpdated(
                    item_id=self.item_id, concern_id=self.concern_id, status=cast(Any, to), changed_at=at,
                )
            )
        self.status = to
        self.updated_at = at
        self.version += 1

    def write_summary(self, *, text: str, at: datetime) -> None:
        """Set or edit the public summary of an open item (no event: events never carry text)."""
        if self.closed:
            raise InvalidSummary("the summary of a closed item is part of the record and cannot change")
        self.public_summary = check_summary(text)
        self.updated_at = at
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
