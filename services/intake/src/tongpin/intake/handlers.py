"""Intake's commands and event handlers; dependencies arrive as parameters."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from tongpin.intake.repository import MessageRepository
from tongpin.shared.events import ConcernRaised, make_event


async def accept_message(
    *,
    repo: MessageRepository,
    channel_id: str,
    channel_kind: str,
    source_message_id: str,
    text: str,
    sent_at: datetime,
    author_member_id: str | None,
    correlation_id: str | None,
    traceparent: str | None,
) -> tuple[dict[str, Any], bool]:
    """Store a message as received and announce it as concern.raised; idempotent on the source's id."""
    concern_id = f"c-{uuid.uuid4().hex}"
    data = ConcernRaised(
        concern_id=concern_id, channel_id=channel_id, channel_kind=channel_kind,  # type: ignore[arg-type]
        origin="api", author_member_id=author_member_id, anonymous=author_member_id is None,
        text=text, sent_at=sent_at,
    )
    event = make_event(data, subject=concern_id, correlationid=correlation_id, traceparent=traceparent)
    document = {
        "_id": concern_id,
        "source_message_id": source_message_id,
        "channel_id": channel_id,
        "channel_kind": channel_kind,
        "author_member_id": author_member_id,
        "text": text,
        "sent_at": sent_at,
        "received_at": datetime.now(UTC),
    }
    return await repo.insert_new(document, [event])
