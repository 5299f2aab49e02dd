"""Facts into increments: what a thread or an event counts, as ``$inc`` updates on its scope documents."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import tzinfo

from tongpin.oversight.domain.periods import SHANGHAI, bucket_keys
from tongpin.oversight.domain.statistics.scopes import ALL_UNITS, DAY, MONTH, Increment, scope_key
from tongpin.oversight.domain.threads import Fact
from tongpin.shared import events

ScopedFact = tuple[str, str, str, str]  # (kind, period key, unit, figure)


def increments(facts: Mapping[ScopedFact, int]) -> list[Increment]:
    """The counter increments of some facts: each on its unit's scope and on the all-units scope."""
    out: list[Increment] = []
    for (kind, key, unit, path), amount in sorted(facts.items()):
        if not amount:
            continue
        for scope_unit in (unit, ALL_UNITS) if unit != ALL_UNITS else (ALL_UNITS,):
            out.append(Increment(scope_key(kind=kind, key=key, unit=scope_unit), path, amount))
    return out


def month_facts(facts: Mapping[Fact, int]) -> dict[ScopedFact, int]:
    """Thread facts ``(month, unit, figure)`` as scoped facts."""
    return {(MONTH, month, unit, path): amount for (month, unit, path), amount in facts.items()}


def event_facts(data: events.EventData, *, zone: tzinfo = SHANGHAI) -> dict[ScopedFact, int]:
    """What an event counts on its own (outside any thread): membership, roster changes, broadcast deliveries."""
    unit = getattr(data, "unit", None)
    if unit is None:
        return {}
    out: Counter[ScopedFact] = Counter()
    match data:
        case events.MemberJoined():
            keys = bucket_keys(data.joined_at, zone)
            out[(MONTH, keys["month"], unit, f"participation.joins.{data.channel_kind}")] += 1
            out[(DAY, keys["day"], unit, f"participation.joined.{data.channel_kind}")] += 1
        case events.MemberLeft():
            keys = bucket_keys(data.left_at, zone)
            out[(MONTH, keys["month"], unit, f"participation.leaves.{data.channel_kind}")] += 1
            out[(DAY, keys["day"], unit, f"participation.joined.{data.channel_kind}")] -= 1
        case events.RosterUpdated():
            keys = bucket_keys(data.effective_at, zone)
            out[(DAY, keys["day"], unit, f"participation.roster.{data.channel_kind}")] += 1 if data.active else -1
        case events.BroadcastDelivered():
            keys = bucket_keys(data.delivered_at, zone)
            out[(MONTH, keys["month"], unit, f"broadcasts.{data.outcome}.{data.channel_kind}")] += 1
        case events.ConcernRead():
            # Counted in the month the message was received, as its concern is (ids and times only).
            month = bucket_keys(data.received_at, zone)["month"]
            out[(MONTH, month, unit, f"reading.read.{data.target}")] += 1
            if data.within_target:
                out[(MONTH, month, unit, f"reading.read_within_target.{data.target}")] += 1
        case events.ReadingOverdue():
            month = bucket_keys(data.received_at, zone)["month"]
            out[(MONTH, month, unit, f"reading.overdue.{data.target}")] += 1
    return dict(out)
