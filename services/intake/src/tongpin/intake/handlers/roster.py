"""The roster: importing it row by row, finding a member, and the unit a person or a concern counts in."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, tzinfo
from typing import Any

from tongpin.intake.domain.roster import RosterRow, RowError
from tongpin.intake.handlers.common import Trace, aware, business_now, pause
from tongpin.intake.repository import MemberRepository
from tongpin.shared.envelope import CloudEvent
from tongpin.shared.events import RosterUpdated, make_event
from tongpin.shared.problems import Conflict, Invalid, NotFound


def member_id_for(external_id: str) -> str:
    """A deterministic member id for an external (HR or WeCom) id, so re-imports find the same person."""
    return "m-" + hashlib.sha256(external_id.encode("utf-8")).hexdigest()[:20]


@dataclass
class RosterReport:
    """What a roster import did, row by row."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rejected: list[RowError] = field(default_factory=list)


def report_rows(errors: Iterable[RowError]) -> list[dict[str, Any]]:
    """Rejected rows as row, field and reason."""
    return [{"row": e.row, "field": e.field, "reason": e.reason} for e in errors]


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
        await pause(attempt)
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
                periods[-1] = {**periods[-1], "to": max(effective, aware(periods[-1]["from"]))}
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


# --- members and their units ---------------------------------------------------------------------


async def member_by_any(
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
