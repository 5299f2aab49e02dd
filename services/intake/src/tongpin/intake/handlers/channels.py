"""Channels and who is in them: registering channels, members joining and leaving, participation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tongpin.intake.domain.participation import (
    MembershipInterval,
    Participation,
    RosterInterval,
    participation,
)
from tongpin.intake.domain.roster import CHANNEL_OF_KIND
from tongpin.intake.handlers.common import Trace, aware, business_now, pause
from tongpin.intake.handlers.roster import member_by_any, member_unit
from tongpin.intake.repository import ChannelRepository, MemberRepository, MembershipRepository
from tongpin.shared.events import MemberJoined, MemberLeft, make_event
from tongpin.shared.problems import Conflict, Invalid, NotFound


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


# --- membership ---------------------------------------------------------------------------------


async def join_channel(
    *, channels: ChannelRepository, members: MemberRepository, memberships: MembershipRepository,
    channel_id: str, member_id: str | None, member_external_id: str | None, joined_at: datetime, trace: Trace,
    bureau_unit: str,
) -> tuple[dict[str, Any], bool]:
    """Record that a member joined a channel at a time (possibly in the past); a repeat changes nothing."""
    channel = await channels.get(channel_id)
    if channel is None:
        raise NotFound("channel", channel_id)
    member = await member_by_any(members=members, member_id=member_id, external_id=member_external_id)
    if CHANNEL_OF_KIND[member["member_kind"]] != channel["kind"]:
        raise Invalid("member_id", f"a {member['member_kind']} cannot join a {channel['kind']} channel")
    joined_at = aware(joined_at)
    membership_id = f"{member['_id']}:{channel_id}"
    event = make_event(
        MemberJoined(member_id=member["_id"], member_kind=member["member_kind"], channel_id=channel_id,
                     channel_kind=channel["kind"],
                     unit=await member_unit(members=members, person=member, bureau_unit=bureau_unit),
                     joined_at=joined_at),
        subject=member["_id"], correlationid=trace.correlation_id, traceparent=trace.traceparent,
    )
    for attempt in range(40):
        await pause(attempt)
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
        last_left = max((aware(i["left_at"]) for i in existing["intervals"] if i.get("left_at")), default=None)
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
    member = await member_by_any(members=members, member_id=member_id, external_id=member_external_id)
    left_at = aware(left_at)
    membership_id = f"{member['_id']}:{channel_id}"
    event = make_event(
        MemberLeft(member_id=member["_id"], member_kind=member["member_kind"], channel_id=channel_id,
                   channel_kind=channel["kind"],
                   unit=await member_unit(members=members, person=member, bureau_unit=bureau_unit),
                   left_at=left_at),
        subject=member["_id"], correlationid=trace.correlation_id, traceparent=trace.traceparent,
    )
    for attempt in range(40):
        await pause(attempt)
        existing = await memberships.get(membership_id)
        if existing is None or not existing["in_channel"]:
            return existing, False
        intervals = list(existing["intervals"])
        if left_at < aware(intervals[-1]["joined_at"]):
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
    at = aware(at)
    roster = [
        RosterInterval(member_id=m["_id"], member_kind=m["member_kind"], active_from=aware(p["from"]),
                       active_to=aware(p["to"]) if p.get("to") else None)
        for m in await members.roster_of_kinds(list(CHANNEL_OF_KIND))
        for p in m.get("roster_periods") or []
    ]
    intervals = [
        MembershipInterval(member_id=ms["member_id"], channel_kind=ms["channel_kind"],
                           joined_at=aware(i["joined_at"]), left_at=aware(i["left_at"]) if i["left_at"] else None)
        for ms in await memberships.all(channel_id=channel_id)
        for i in ms["intervals"]
    ]
    return {str(kind): value for kind, value in participation(at, memberships=intervals, roster=roster).items()}
