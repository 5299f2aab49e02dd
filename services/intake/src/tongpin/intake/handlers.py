"""Intake's commands and event handlers; dependencies arrive as parameters."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

import httpx

from tongpin.intake.domain import signing
from tongpin.intake.domain.messages import TextError, message_fingerprint, to_stored_precision, validate_text
from tongpin.intake.domain.participation import (
    MembershipInterval,
    Participation,
    RosterInterval,
    participation,
)
from tongpin.intake.domain.receipts import ReceiptCodeError, hash_receipt, new_receipt_code
from tongpin.intake.domain.roster import CHANNEL_OF_KIND, RosterRow, RowError
from tongpin.intake.domain.wecom import robot_payloads
from tongpin.intake.repository import (
    ChannelRepository,
    DeliveryRepository,
    GuardRepository,
    MemberRepository,
    MembershipRepository,
    MessageRepository,
    ReceiptRepository,
)
from tongpin.intake.settings import IntakeSettings
from tongpin.shared import clock
from tongpin.shared.envelope import CloudEvent
from tongpin.shared.events import (
    BroadcastDelivered,
    BroadcastRequested,
    ConcernRaised,
    MemberJoined,
    MemberLeft,
    ReplyRequested,
    RosterUpdated,
    make_event,
)
from tongpin.shared.logging import get_logger
from tongpin.shared.problems import Conflict, Invalid, NotFound, Problem

log = get_logger(__name__)

def now_utc() -> datetime:
    """The system time: for rate limits, lock-outs, deliveries and retention (never stretched by a demo clock)."""
    return datetime.now(UTC)


def business_now() -> datetime:
    """When something happens in the bureau's business: the runtime's clock (tongpin.shared.clock)."""
    return clock.now()


async def _pause(attempt: int) -> None:
    """Wait a little before retrying a write that lost an optimistic-concurrency race."""
    if attempt:
        await asyncio.sleep(min(0.5, 0.02 * attempt))


def member_id_for(external_id: str) -> str:
    """A deterministic member id for an external (HR or WeCom) id, so re-imports find the same person."""
    return "m-" + hashlib.sha256(external_id.encode("utf-8")).hexdigest()[:20]


def _aware(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Trace:
    """Ids a request or event carries into the events it causes."""

    correlation_id: str | None = None
    traceparent: str | None = None


# --- channels -----------------------------------------------------------------------------------


async def create_channel(*, channels: ChannelRepository, document: dict[str, Any]) -> dict[str, Any]:
    """Register a channel bound to its external group; 409 when the id or group is taken."""
    stored = {**document, "version": 1, "created_at": business_now()}
    if not await channels.insert(stored):
        raise Conflict("a channel with this id or external_group_id exists", field="id")
    return stored


async def update_channel(
    *, channels: ChannelRepository, channel_id: str, version: int, changes: dict[str, Any]
) -> dict[str, Any]:
    """Change a channel's name, group or delivery; 409 when someone changed it first."""
    if await channels.get(channel_id) is None:
        raise NotFound("channel", channel_id)
    try:
        updated = await channels.update(channel_id, version=version, changes=changes)
    except Exception as exc:  # a duplicate external group id
        if "duplicate key" in str(exc).lower() or "E11000" in str(exc):
            raise Conflict("another channel has this external_group_id", field="external_group_id") from None
        raise
    if updated is None:
        raise Conflict("the channel was changed by someone else; reload and try again", field="version")
    return updated


# --- roster -------------------------------------------------------------------------------------


@dataclass
class RosterReport:
    """What a roster import did, row by row."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rejected: list[RowError] = field(default_factory=list)


def _effective(since: date | None, *, now: datetime, zone: tzinfo) -> datetime:
    """When a roster row takes effect: midnight of its date in the bureau's time zone, else now."""
    if since is None:
        return now
    return datetime.combine(since, time.min, tzinfo=zone).astimezone(UTC)


async def upsert_roster(
    *, members: MemberRepository, rows: Sequence[RosterRow], errors: Sequence[RowError], trace: Trace,
    bureau_unit: str, zone: tzinfo,
) -> RosterReport:
    """Write each good roster row on its own (a bad row never blocks a good one); idempotent."""
    report = RosterReport(rejected=list(errors))
    for row in rows:
        outcome = await _upsert_row(members=members, row=row, trace=trace, bureau_unit=bureau_unit, zone=zone)
        getattr(report, outcome).append(member_id_for(row.external_id))
    return report


async def _upsert_row(
    *, members: MemberRepository, row: RosterRow, trace: Trace, bureau_unit: str, zone: tzinfo,
) -> str:
    member_id = member_id_for(row.external_id)
    fields = {
        "external_id": row.external_id, "name": row.name, "member_kind": row.member_kind, "unit": row.unit,
        "linked_officer_external_id": row.linked_officer_external_id,
        "linked_officer_id": member_id_for(row.linked_officer_external_id) if row.linked_officer_external_id else None,
        "supervisor_kind": row.supervisor_kind, "channel_kind": row.channel_kind,
    }
    unit = await member_unit(members=members, person=fields, bureau_unit=bureau_unit)
    for attempt in range(40):
        await _pause(attempt)
        now = business_now()
        effective = _effective(row.since, now=now, zone=zone)
        existing = await members.get(member_id)
        if existing is None:
            initial = [{"from": effective, "to": None}] if row.active else []
            created = ([_roster_event(member_id, row.member_kind, row.channel_kind, unit=unit, active=True,
                                      at=effective, trace=trace)] if row.active else [])
            doc = {"_id": member_id, **fields, "active": row.active, "roster_periods": initial, "version": 1,
                   "created_at": now, "updated_at": now}
            if await members.insert(doc, created):
                return "created"
            continue
        changes = {k: v for k, v in fields.items() if existing.get(k) != v}
        update: dict[str, Any] = {"$set": {**changes, "updated_at": now}}
        events: list[CloudEvent] = []
        periods: list[dict[str, Any]] = list(existing.get("roster_periods") or [])
        was_unit = await member_unit(members=members, person=existing, bureau_unit=bureau_unit)
        if row.active and not existing.get("active"):
            periods.append({"from": effective, "to": None})
            update["$set"].update(active=True, roster_periods=periods)
            events.append(_roster_event(member_id, row.member_kind, row.channel_kind, unit=unit, active=True,
                                        at=effective, trace=trace))
        elif not row.active and existing.get("active"):
            if periods and periods[-1]["to"] is None:
                periods[-1] = {**periods[-1], "to": max(effective, _aware(periods[-1]["from"]))}
            update["$set"].update(active=False, roster_periods=periods)
            events.append(_roster_event(member_id, existing["member_kind"], existing["channel_kind"],
                                        unit=was_unit, active=False, at=effective, trace=trace))
        elif row.active and (({"member_kind"} & changes.keys()) or unit != was_unit):
            # Moved to another unit (or kind): off the old headcount, onto the new one, so units add up.
            events.append(_roster_event(member_id, existing["member_kind"], existing["channel_kind"],
                                        unit=was_unit, active=False, at=now, trace=trace))
            events.append(_roster_event(member_id, row.member_kind, row.channel_kind, unit=unit, active=True,
                                        at=now, trace=trace))
        if not changes and not events:
            return "unchanged"
        if await members.update(member_id, version=existing["version"], update=update, events=events):
            return "updated"
    raise Conflict(f"roster row {row.external_id} kept changing under the import; try again")


def _roster_event(member_id: str, member_kind: str, channel_kind: str, *, unit: str, active: bool, at: datetime,
                  trace: Trace) -> CloudEvent:
    data = RosterUpdated(member_id=member_id, member_kind=member_kind, channel_kind=channel_kind,  # type: ignore[arg-type]
                         unit=unit, active=active, effective_at=at)
    return make_event(data, subject=member_id, correlationid=trace.correlation_id, traceparent=trace.traceparent)


# --- membership ---------------------------------------------------------------------------------


async def _member_by_any(
    *, members: MemberRepository, member_id: str | None, external_id: str | None
) -> dict[str, Any]:
    if member_id:
        found = await members.get(member_id)
        if found is None:
            raise NotFound("member", member_id)
        return found
    if external_id:
        found = await members.by_external_id(external_id)
        if found is None:
            raise NotFound("member", external_id)
        return found
    raise Invalid("member_id", "give member_id or member_external_id")


async def join_channel(
    *, channels: ChannelRepository, members: MemberRepository, memberships: MembershipRepository,
    channel_id: str, member_id: str | None, member_external_id: str | None, joined_at: datetime, trace: Trace,
    bureau_unit: str,
) -> tuple[dict[str, Any], bool]:
    """Record that a member joined a channel at a time (possibly in the past); a repeat changes nothing."""
    channel = await channels.get(channel_id)
    if channel is None:
        raise NotFound("channel", channel_id)
    member = await _member_by_any(members=members, member_id=member_id, external_id=member_external_id)
    if CHANNEL_OF_KIND[member["member_kind"]] != channel["kind"]:
        raise Invalid("member_id", f"a {member['member_kind']} cannot join a {channel['kind']} channel")
    joined_at = _aware(joined_at)
    membership_id = f"{member['_id']}:{channel_id}"
    event = make_event(
        MemberJoined(member_id=member["_id"], member_kind=member["member_kind"], channel_id=channel_id,
                     channel_kind=channel["kind"],
                     unit=await member_unit(members=members, person=member, bureau_unit=bureau_unit),
                     joined_at=joined_at),
        subject=member["_id"], correlationid=trace.correlation_id, traceparent=trace.traceparent,
    )
    for attempt in range(40):
        await _pause(attempt)
        existing = await memberships.get(membership_id)
        if existing is None:
            doc = {"_id": membership_id, "member_id": member["_id"], "channel_id": channel_id,
                   "channel_kind": channel["kind"], "member_kind": member["member_kind"],
                   "in_channel": True, "intervals": [{"joined_at": joined_at, "left_at": None}], "version": 1}
            if await memberships.insert(doc, [event]):
                return doc, True
            continue
        if existing["in_channel"]:
            return existing, False
        last_left = max((_aware(i["left_at"]) for i in existing["intervals"] if i.get("left_at")), default=None)
        if last_left is not None and joined_at < last_left:
            raise Invalid("joined_at", "is before the member last left this channel")
        intervals = [*existing["intervals"], {"joined_at": joined_at, "left_at": None}]
        if await memberships.update(membership_id, version=existing["version"], events=[event],
                                    update={"$set": {"in_channel": True, "intervals": intervals}}):
            return {**existing, "in_channel": True, "intervals": intervals}, True
    raise Conflict("the membership kept changing; try again")


async def leave_channel(
    *, channels: ChannelRepository, members: MemberRepository, memberships: MembershipRepository,
    channel_id: str, member_id: str | None, member_external_id: str | None, left_at: datetime, trace: Trace,
    bureau_unit: str,
) -> tuple[dict[str, Any] | None, bool]:
    """Record that a member left a channel at a time; leaving when not in changes nothing."""
    channel = await channels.get(channel_id)
    if channel is None:
        raise NotFound("channel", channel_id)
    member = await _member_by_any(members=members, member_id=member_id, external_id=member_external_id)
    left_at = _aware(left_at)
    membership_id = f"{member['_id']}:{channel_id}"
    event = make_event(
        MemberLeft(member_id=member["_id"], member_kind=member["member_kind"], channel_id=channel_id,
                   channel_kind=channel["kind"],
                   unit=await member_unit(members=members, person=member, bureau_unit=bureau_unit),
                   left_at=left_at),
        subject=member["_id"], correlationid=trace.correlation_id, traceparent=trace.traceparent,
    )
    for attempt in range(40):
        await _pause(attempt)
        existing = await memberships.get(membership_id)
        if existing is None or not existing["in_channel"]:
            return existing, False
        intervals = list(existing["intervals"])
        if left_at < _aware(intervals[-1]["joined_at"]):
            raise Invalid("left_at", "is before the member joined this channel")
        intervals[-1] = {**intervals[-1], "left_at": left_at}
        if await memberships.update(membership_id, version=existing["version"], events=[event],
                                    update={"$set": {"in_channel": False, "intervals": intervals}}):
            return {**existing, "in_channel": False, "intervals": intervals}, True
    raise Conflict("the membership kept changing; try again")


# --- participation ------------------------------------------------------------------------------


async def participation_at(
    *, members: MemberRepository, memberships: MembershipRepository, at: datetime,
    channel_id: str | None = None,
) -> dict[str, Participation]:
    """Participation per channel kind at a moment (or of one channel against its kind's roster)."""
    at = _aware(at)
    roster = [
        RosterInterval(member_id=m["_id"], member_kind=m["member_kind"], active_from=_aware(p["from"]),
                       active_to=_aware(p["to"]) if p.get("to") else None)
        for m in await members.roster_of_kinds(list(CHANNEL_OF_KIND))
        for p in m.get("roster_periods") or []
    ]
    intervals = [
        MembershipInterval(member_id=ms["member_id"], channel_kind=ms["channel_kind"],
                           joined_at=_aware(i["joined_at"]), left_at=_aware(i["left_at"]) if i["left_at"] else None)
        for ms in await memberships.all(channel_id=channel_id)
        for i in ms["intervals"]
    ]
    return {str(kind): value for kind, value in participation(at, memberships=intervals, roster=roster).items()}


# --- messages -----------------------------------------------------------------------------------


def checked_text(text: str, *, field_name: str = "text") -> str:
    """The text unchanged, or a 422 problem naming the field."""
    try:
        return validate_text(text, field=field_name)
    except TextError as exc:
        raise Invalid(exc.field, exc.reason) from None


async def _own_unit(*, members: MemberRepository, person: Mapping[str, Any] | None) -> str | None:
    """A person's own unit, or for a family member their officer's."""
    if person is None:
        return None
    if person.get("unit"):
        return str(person["unit"])
    if person.get("linked_officer_id"):
        officer = await members.get(str(person["linked_officer_id"]))
        if officer is not None and officer.get("unit"):
            return str(officer["unit"])
    return None


async def member_unit(*, members: MemberRepository, person: Mapping[str, Any] | None, bureau_unit: str) -> str:
    """The unit a person's participation counts in: their own (their officer's), else the bureau's own."""
    return await _own_unit(members=members, person=person) or bureau_unit


async def concern_unit(
    *, members: MemberRepository, author: Mapping[str, Any] | None, about: Mapping[str, Any] | None,
    channel: Mapping[str, Any], bureau_unit: str,
) -> str:
    """The unit a concern counts in: its officer's, else its author's, else its channel's, else the bureau's."""
    for person in (about, author):
        unit = await _own_unit(members=members, person=person)
        if unit:
            return unit
    return str(channel.get("unit") or bureau_unit)


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
        author = await _member_by_any(members=members, member_id=author_member_id, external_id=author_external_id)
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


# --- public submissions -------------------------------------------------------------------------


class TooManyRequests(Problem):
    def __init__(self, detail: str, *, retry_after: float) -> None:
        seconds = max(1, int(retry_after + 0.999))
        super().__init__(429, detail, headers={"Retry-After": str(seconds)}, retry_after=seconds)


class PublicFormClosed(Problem):
    def __init__(self) -> None:
        super().__init__(503, "the public form is not configured (no receipt pepper)")


def _pepper(settings: IntakeSettings) -> bytes:
    if settings.receipt_pepper is None:
        raise PublicFormClosed()
    return settings.receipt_pepper.get_secret_value().encode("utf-8")


async def limit_public_rate(*, guard: GuardRepository, settings: IntakeSettings, client: str, now: datetime) -> None:
    """Count one public write for the client and for everyone; 429 over either limit."""
    window = settings.public_window_seconds
    index = int(now.timestamp() // window)
    window_end = datetime.fromtimestamp((index + 1) * window, tz=UTC)
    retry_after = (window_end - now).total_seconds()
    if await guard.hit(f"public:client:{client}:{index}", expires_at=window_end) > settings.public_per_client_limit:
        raise TooManyRequests("too many submissions from this client; try again later", retry_after=retry_after)
    if await guard.hit(f"public:all:{index}", expires_at=window_end) > settings.public_overall_limit:
        raise TooManyRequests("the form is receiving too many submissions; try again later", retry_after=retry_after)


async def submit_public(
    *, channels: ChannelRepository, messages: MessageRepository, receipts: ReceiptRepository,
    guard: GuardRepository, settings: IntakeSettings, client: str, channel_kind: str, channel_id: str | None,
    text: str, anonymous: bool, contact: str | None, about_officer_id: str | None, trace: Trace,
) -> tuple[dict[str, Any], str]:
    """Take a public form submission; return the stored concern and the receipt code (shown once)."""
    pepper = _pepper(settings)
    text = checked_text(text)
    if channel_id:
        channel = await channels.get(channel_id)
        if channel is None or channel["kind"] != channel_kind:
            raise NotFound("channel", channel_id)
    else:
        channel = await channels.first_of_kind(channel_kind)
        if channel is None:
            raise NotFound("channel of kind", channel_kind)
    await limit_public_rate(guard=guard, settings=settings, client=client, now=now_utc())
    now = business_now()
    code = new_receipt_code()
    receipt_id = hash_receipt(code, pepper=pepper)
    concern_id = new_concern_id()
    # The receipt first, the message (which raises the concern) last: a request cut off between the
    # two leaves only a receipt nobody holds the code of, never a concern the submitter was told failed.
    unit = str(channel.get("unit") or settings.bureau_unit)  # a submission to a unit's channel counts there
    await receipts.insert({
        "_id": receipt_id, "concern_id": concern_id, "channel_id": channel["_id"], "channel_kind": channel["kind"],
        "unit": unit, "status": "received", "status_at": None, "created_at": now,
        "thread": [{"id": f"m:{concern_id}", "kind": "submission", "ref": concern_id, "at": now}],
    })
    doc, _ = await accept_message(
        repo=messages, channel_id=channel["_id"], channel_kind=channel["kind"],
        source_message_id=f"form:{uuid.uuid4().hex}", text=text, sent_at=now, author_member_id=None,
        correlation_id=trace.correlation_id, traceparent=trace.traceparent, origin="public_form",
        about_officer_id=None, unit=unit, receipt_id=receipt_id, contact=None if anonymous else contact,
        concern_id=concern_id,
    )
    return doc, code


async def open_receipt(
    *, receipts: ReceiptRepository, guard: GuardRepository, settings: IntakeSettings, client: str, code: str,
    now: datetime,
) -> dict[str, Any]:
    """The receipt for a code, or 404; wrong codes lock the client out for longer and longer."""
    pepper = _pepper(settings)
    lock = await guard.lockout(client)
    if lock and lock.get("locked_until") and _aware(lock["locked_until"]) > now:
        raise TooManyRequests("too many wrong receipt codes; try again later",
                              retry_after=(_aware(lock["locked_until"]) - now).total_seconds())
    window = settings.public_window_seconds
    index = int(now.timestamp() // window)
    window_end = datetime.fromtimestamp((index + 1) * window, tz=UTC)
    if await guard.count(f"receipt-fail:all:{index}") >= settings.receipt_overall_failure_limit:
        raise TooManyRequests("receipt look-ups are paused; try again later",
                              retry_after=(window_end - now).total_seconds())
    receipt = None
    try:
        receipt = await receipts.get(hash_receipt(code, pepper=pepper))
    except ReceiptCodeError:
        receipt = None
    if receipt is not None:
        return receipt
    state = await guard.fail(client, now=now)
    await guard.hit(f"receipt-fail:all:{index}", expires_at=window_end)
    over = int(state["failures"]) - settings.receipt_free_failures
    if over >= 0:
        delay = min(settings.receipt_lockout_max_seconds, settings.receipt_lockout_seconds * (2 ** min(over, 30)))
        await guard.lock_until(client, until=now + timedelta(seconds=delay))
    raise NotFound("receipt", "(the code given)")


async def read_thread(
    *, receipt: dict[str, Any], messages: MessageRepository, deliveries: DeliveryRepository
) -> dict[str, Any]:
    """The receipt holder's view: public status and the thread of their messages, replies and status changes."""
    entries = []
    for entry in receipt.get("thread") or []:
        item: dict[str, Any] = {"kind": entry["kind"], "at": entry["at"]}
        if entry["kind"] == "submission":
            message = await messages.get(entry["ref"])
            if message is None:
                continue  # its request failed after the thread entry was written; nothing was raised
            item["text"] = message.get("text")
        elif entry["kind"] == "reply":
            delivery = await deliveries.get(entry["ref"])
            item["text"] = delivery.get("text") if delivery else None
        else:
            item["status"] = entry.get("status")
        entries.append(item)
    return {"status": receipt.get("status", "received"), "channel_kind": receipt["channel_kind"],
            "created_at": receipt["created_at"], "entries": entries}


async def add_public_message(
    *, receipt: dict[str, Any], messages: MessageRepository, receipts: ReceiptRepository, guard: GuardRepository,
    settings: IntakeSettings, client: str, text: str, trace: Trace,
) -> dict[str, Any]:
    """A follow-up by the receipt holder: a new concern on the same receipt thread."""
    text = checked_text(text)
    await limit_public_rate(guard=guard, settings=settings, client=client, now=now_utc())
    now = business_now()
    first = await messages.get(str(receipt["concern_id"])) if not receipt.get("unit") else None
    concern_id = new_concern_id()
    # The thread entry first, the message last (see submit_public); the thread skips entries whose
    # message was never stored.
    await receipts.add_entry(receipt["_id"], {"id": f"m:{concern_id}", "kind": "submission", "ref": concern_id,
                                              "at": now})
    doc, _ = await accept_message(
        repo=messages, channel_id=receipt["channel_id"], channel_kind=receipt["channel_kind"],
        source_message_id=f"form:{uuid.uuid4().hex}", text=text, sent_at=now, author_member_id=None,
        correlation_id=trace.correlation_id, traceparent=trace.traceparent, origin="public_form",
        receipt_id=receipt["_id"], concern_id=concern_id,
        unit=str(receipt.get("unit") or (first or {}).get("unit") or settings.bureau_unit),
    )
    return doc


# --- delivery back out --------------------------------------------------------------------------


def _delivery(*, delivery_id: str, kind: str, channel: dict[str, Any] | None, channel_id: str, text: str,
              title: str | None, now: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "_id": delivery_id, "kind": kind, "channel_id": channel_id,
        "channel_kind": channel["kind"] if channel else None, "target": "channel", "text": text, "title": title,
        "status": "pending", "attempts": 0, "next_attempt_at": now, "attempt_log": [], "pieces_done": 0,
        "created_at": now, "finished_at": None, "text_purged_at": None, **extra,
    }


async def on_reply_requested(
    *, event: CloudEvent, data: ReplyRequested, messages: MessageRepository, channels: ChannelRepository,
    receipts: ReceiptRepository, deliveries: DeliveryRepository,
) -> None:
    """Queue a staff reply for the channel the concern came from, or post it on the receipt thread."""
    now = now_utc()
    delivery_id = f"reply:{data.reply_id}"
    message = await messages.get(data.concern_id)
    if message is not None and message.get("receipt_id"):
        receipt_id = message["receipt_id"]
        await deliveries.insert({
            "_id": delivery_id, "kind": "reply", "target": "receipt", "receipt_id": receipt_id,
            "channel_id": message["channel_id"], "channel_kind": message["channel_kind"],
            "concern_id": data.concern_id, "case_id": data.case_id, "text": data.text, "title": None,
            "status": "delivered", "attempts": 1, "next_attempt_at": None, "created_at": now, "finished_at": now,
            "attempt_log": [{"at": now, "outcome": "delivered", "detail": "posted on the receipt thread"}],
            "text_purged_at": None,
        })
        await receipts.add_entry(receipt_id, {"id": f"r:{data.reply_id}", "kind": "reply", "ref": delivery_id,
                                              "at": data.requested_at})
        return
    if message is None:
        # Retried, then parked: the concern may not have arrived yet, and ops can replay it later.
        raise LookupError(f"no concern {data.concern_id} to reply to")
    # A reply goes back where its concern came from, whatever channel the request names.
    channel_id = message["channel_id"]
    if data.channel_id and data.channel_id != channel_id:
        log.warning("reply.channel_ignored", reply_id=data.reply_id, concern_id=data.concern_id,
                    requested_channel=data.channel_id, channel_id=channel_id)
    channel = await channels.get(channel_id)
    if channel is None:
        raise LookupError(f"reply to unknown channel {channel_id}")
    await deliveries.insert(_delivery(delivery_id=delivery_id, kind="reply", channel=channel, channel_id=channel_id,
                                      text=data.text, title=None, now=now, concern_id=data.concern_id,
                                      case_id=data.case_id))


async def on_broadcast_requested(
    *, data: BroadcastRequested, channels: ChannelRepository, deliveries: DeliveryRepository, trace: Trace,
) -> None:
    """One delivery per channel of a broadcast; an unknown channel is recorded as failed at once."""
    now = now_utc()
    for channel_id in dict.fromkeys(data.channel_ids):
        delivery_id = f"broadcast:{data.broadcast_id}:{channel_id}"
        channel = await channels.get(channel_id)
        doc = _delivery(delivery_id=delivery_id, kind="broadcast", channel=channel, channel_id=channel_id,
                        text=data.text, title=data.title, now=now, broadcast_id=data.broadcast_id)
        events: list[CloudEvent] = []
        if channel is None:
            doc.update(status="failed", attempts=1, next_attempt_at=None, finished_at=now,
                       attempt_log=[{"at": now, "outcome": "failed", "detail": "unknown channel"}])
            # channel_kind is unknown for an unknown channel, so no broadcast.delivered can name it.
        await deliveries.insert(doc, events)


def _backoff(settings: IntakeSettings, attempts: int) -> float:
    tiers = settings.delivery_backoff_seconds or [5.0]
    return tiers[min(attempts - 1, len(tiers) - 1)]


class DeliveryFailed(Exception):
    """One attempt did not get through; says why."""

    def __init__(self, detail: str, *, pieces_done: int = 0) -> None:
        super().__init__(detail)
        self.pieces_done = pieces_done


def _body_text(delivery: dict[str, Any]) -> str:
    title = delivery.get("title")
    return f"【{title}】\n{delivery['text']}" if title else str(delivery["text"])


async def _send_wecom_robot(*, http: httpx.AsyncClient, url: str, delivery: dict[str, Any]) -> None:
    done = int(delivery.get("pieces_done") or 0)
    pieces = robot_payloads(_body_text(delivery))
    for index in range(done, len(pieces)):
        try:
            response = await http.post(url, json=pieces[index])
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"robot webhook unreachable: {type(exc).__name__}", pieces_done=index) from None
        errcode = None
        try:
            errcode = response.json().get("errcode")
        except ValueError:
            pass
        if response.status_code != 200 or errcode not in (0, None):
            raise DeliveryFailed(f"robot webhook answered {response.status_code} errcode={errcode}",
                                 pieces_done=index)


async def _send_webhook(*, http: httpx.AsyncClient, url: str, secret: str, delivery: dict[str, Any]) -> None:
    body = json.dumps({
        "delivery_id": delivery["_id"], "kind": delivery["kind"], "channel_id": delivery["channel_id"],
        "concern_id": delivery.get("concern_id"), "broadcast_id": delivery.get("broadcast_id"),
        "title": delivery.get("title"), "text": delivery["text"],
    }, ensure_ascii=False).encode("utf-8")
    headers = {
        "content-type": "application/json; charset=utf-8",
        signing.SIGNATURE_HEADER: signing.sign(body=body, secret=secret, timestamp=int(now_utc().timestamp())),
        # Receivers deduplicate on this id: a success whose record was lost is retried with the same id.
        "Idempotency-Key": delivery["_id"],
    }
    try:
        response = await http.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"webhook unreachable: {type(exc).__name__}") from None
    if not 200 <= response.status_code < 300:
        raise DeliveryFailed(f"webhook answered {response.status_code}")


async def attempt_delivery(
    *, delivery: dict[str, Any], channel: dict[str, Any] | None, settings: IntakeSettings, http: httpx.AsyncClient
) -> None:
    """Send one delivery through its channel's adapter; raises DeliveryFailed."""
    if channel is None:
        raise DeliveryFailed("channel no longer exists")
    adapter = (channel.get("delivery") or {}).get("adapter", "none")
    if adapter == "wecom_robot":
        app = settings.wecom_apps.get(channel["_id"])
        if app is None or app.robot_webhook_url is None:
            raise DeliveryFailed("no robot_webhook_url configured for this channel")
        await _send_wecom_robot(http=http, url=app.robot_webhook_url.get_secret_value(), delivery=delivery)
    elif adapter == "webhook":
        url = (channel.get("delivery") or {}).get("url")
        secret = settings.webhook_secrets.get(channel["_id"])
        if not url or secret is None:
            raise DeliveryFailed("no webhook url or signing secret configured for this channel")
        await _send_webhook(http=http, url=url, secret=secret.get_secret_value(), delivery=delivery)
    else:
        raise DeliveryFailed("channel has no delivery adapter")


async def deliver_due(
    *, deliveries: DeliveryRepository, channels: ChannelRepository, settings: IntakeSettings,
    http: httpx.AsyncClient, now: datetime | None = None,
) -> int:
    """Attempt every delivery that is due; returns how many were attempted."""
    now = now or now_utc()
    attempted = 0
    for delivery in await deliveries.due(now=now):
        lease = now + timedelta(seconds=settings.delivery_lease_seconds)
        if not await deliveries.claim(delivery["_id"], seen_next=delivery["next_attempt_at"], lease_until=lease):
            continue  # another worker took it
        attempted += 1
        channel = await channels.get(delivery["channel_id"])
        attempts = int(delivery.get("attempts", 0)) + 1
        at = now_utc()
        try:
            await attempt_delivery(delivery=delivery, channel=channel, settings=settings, http=http)
        except DeliveryFailed as exc:
            final = attempts >= settings.delivery_max_attempts
            update: dict[str, Any] = {
                "$set": {"attempts": attempts, "pieces_done": exc.pieces_done,
                         "status": "failed" if final else "pending",
                         "next_attempt_at": None if final else at + timedelta(seconds=_backoff(settings, attempts)),
                         "finished_at": at if final else None},
                "$push": {"attempt_log": {"at": at, "outcome": "failed", "detail": str(exc)}},
            }
            log.warning("delivery.attempt_failed", delivery_id=delivery["_id"], attempts=attempts, error=str(exc))
            await deliveries.record(delivery["_id"], update=update,
                                    events=_finished(delivery, channel, "failed", attempts,
                                                     bureau_unit=settings.bureau_unit) if final else [])
            continue
        update = {
            "$set": {"attempts": attempts, "status": "delivered", "next_attempt_at": None, "finished_at": at},
            "$push": {"attempt_log": {"at": at, "outcome": "delivered", "detail": None}},
        }
        await deliveries.record(delivery["_id"], update=update,
                                events=_finished(delivery, channel, "delivered", attempts,
                                                 bureau_unit=settings.bureau_unit))
    return attempted


def _finished(delivery: dict[str, Any], channel: dict[str, Any] | None, outcome: str, attempts: int, *,
              bureau_unit: str) -> list[CloudEvent]:
    if delivery["kind"] != "broadcast" or channel is None:
        return []
    # Counted in the month it reached the group (business time), in the channel's unit.
    data = BroadcastDelivered(broadcast_id=delivery["broadcast_id"], channel_id=delivery["channel_id"],
                              channel_kind=channel["kind"], outcome=outcome,  # type: ignore[arg-type]
                              attempts=attempts, unit=str(channel.get("unit") or bureau_unit),
                              delivered_at=business_now())
    return [make_event(data, subject=delivery["broadcast_id"])]


# --- oversight status ---------------------------------------------------------------------------


async def on_oversight_status(
    *, concern_id: str, item_id: str, status: str, at: datetime, messages: MessageRepository,
    receipts: ReceiptRepository,
) -> None:
    """Show oversight's public status on the concern and on its receipt thread."""
    message = await messages.set_public_status(concern_id, status=status, at=_aware(at))
    if message is None:
        message = await messages.get(concern_id)
        if message is None:
            raise LookupError(f"oversight status for unknown concern {concern_id}")
    receipt_id = message.get("receipt_id")
    if receipt_id:
        await receipts.set_status(receipt_id, status=status, at=_aware(at))
        await receipts.add_entry(receipt_id, {"id": f"s:{item_id}:{status}:{_aware(at).isoformat()}",
                                              "kind": "status", "status": status, "at": _aware(at)})


# --- retention ----------------------------------------------------------------------------------


async def purge_expired_text(
    *, messages: MessageRepository, deliveries: DeliveryRepository, retention_days: int, now: datetime
) -> dict[str, int]:
    """Delete raw text older than the retention period; ids, times and channels stay for statistics."""
    cutoff = _aware(now) - timedelta(days=retention_days)
    return {
        "messages": await messages.purge_text(sent_before=cutoff, now=now),
        "deliveries": await deliveries.purge_text(created_before=cutoff, now=now),
    }


def report_rows(errors: Iterable[RowError]) -> list[dict[str, Any]]:
    return [{"row": e.row, "field": e.field, "reason": e.reason} for e in errors]
