"""Messages: checking one from a bridge or system, storing it once and announcing concern.raised."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tongpin.intake.domain.messages import TextError, message_fingerprint, to_stored_precision, validate_text
from tongpin.intake.handlers.common import Trace, business_now
from tongpin.intake.handlers.roster import concern_unit, member_by_any
from tongpin.intake.repository import ChannelRepository, MemberRepository, MessageRepository
from tongpin.shared.events import ConcernRaised, make_event
from tongpin.shared.problems import Conflict, Invalid, NotFound


def checked_text(text: str, *, field_name: str = "text") -> str:
    """The text unchanged, or a 422 problem naming the field."""
    try:
        return validate_text(text, field=field_name)
    except TextError as exc:
        raise Invalid(exc.field, exc.reason) from None


async def post_message(
    *, channels: ChannelRepository, members: MemberRepository, messages: MessageRepository,
    channel_id: str, source_message_id: str, text: str, sent_at: datetime,
    author_member_id: str | None = None, author_external_id: str | None = None, anonymous: bool = False,
    about_officer_id: str | None = None, attachments: Sequence[dict[str, Any]] = (), origin: str = "api",
    channel_kind: str | None = None, trace: Trace, bureau_unit: str,
) -> tuple[dict[str, Any], bool]:
    """Check a message from a bridge or system, store it as received and announce concern.raised."""
    text = checked_text(text)
    channel = await channels.get(channel_id)
    if channel is None:
        raise NotFound("channel", channel_id)
    if channel_kind is not None and channel_kind != channel["kind"]:
        raise Invalid("channel_kind", f"channel {channel_id} is a {channel['kind']} channel")
    author: dict[str, Any] | None = None
    if anonymous and (author_member_id or author_external_id):
        raise Invalid("anonymous", "an anonymous message names no author")
    if author_member_id or author_external_id:
        author = await member_by_any(members=members, member_id=author_member_id, external_id=author_external_id)
    elif not anonymous:
        raise Invalid("author_member_id", "is required unless the message is anonymous")
    about: dict[str, Any] | None = None
    if about_officer_id:
        about = await members.get(about_officer_id)
        if about is None:
            raise NotFound("member", about_officer_id)
        if about["member_kind"] not in ("officer", "auxiliary"):
            raise Invalid("about_officer_id", "must name an officer or auxiliary")
    unit = await concern_unit(members=members, author=author, about=about, channel=channel, bureau_unit=bureau_unit)
    return await accept_message(
        repo=messages, channel_id=channel_id, channel_kind=channel["kind"], source_message_id=source_message_id,
        text=text, sent_at=sent_at, author_member_id=author["_id"] if author else None,
        correlation_id=trace.correlation_id, traceparent=trace.traceparent, origin=origin,
        about_officer_id=about_officer_id, unit=unit, attachments=attachments,
    )


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
    origin: str = "api",
    about_officer_id: str | None = None,
    unit: str | None = None,
    attachments: Sequence[dict[str, Any]] = (),
    receipt_id: str | None = None,
    contact: str | None = None,
    concern_id: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """Store a checked message as received and announce it as concern.raised; idempotent on the source's id."""
    concern_id = concern_id or new_concern_id()
    sent_at = to_stored_precision(sent_at)
    data = ConcernRaised(
        concern_id=concern_id, channel_id=channel_id, channel_kind=channel_kind,  # type: ignore[arg-type]
        origin=origin,  # type: ignore[arg-type]
        author_member_id=author_member_id, anonymous=author_member_id is None, about_officer_id=about_officer_id,
        unit=unit, text=text, sent_at=sent_at, has_receipt=receipt_id is not None,
        attachment_count=len(attachments),
    )
    event = make_event(data, subject=concern_id, correlationid=correlation_id, traceparent=traceparent)
    document = {
        "_id": concern_id,
        "source_message_id": source_message_id,
        "channel_id": channel_id,
        "channel_kind": channel_kind,
        "origin": origin,
        "author_member_id": author_member_id,
        "anonymous": author_member_id is None,
        "about_officer_id": about_officer_id,
        "unit": unit,
        "text": text,
        "attachments": list(attachments),
        "sent_at": sent_at,
        "received_at": to_stored_precision(business_now()),
        "receipt_id": receipt_id,
        "contact": contact,
        "public_status": None,
        "public_status_at": None,
        "text_purged_at": None,
        "fingerprint": message_fingerprint(
            channel_id=channel_id, author_member_id=author_member_id, about_officer_id=about_officer_id, text=text,
            sent_at=sent_at, attachments=attachments),
    }
    stored, created = await repo.insert_new(document, [event])
    if not created and stored.get("fingerprint") not in (None, document["fingerprint"]):
        raise Conflict(
            f"source_message_id {source_message_id!r} was already used for a different message "
            f"({stored['_id']}); a retry must repeat the message unchanged, a new message needs a new id",
            source_message_id=source_message_id, existing_id=stored["_id"],
        )
    return stored, created


def new_concern_id() -> str:
    return f"c-{uuid.uuid4().hex}"
