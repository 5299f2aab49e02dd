"""Channels, roster and membership on in-memory repositories: what is stored, what is announced, what is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tongpin.intake.domain.roster import validate_rows
from tongpin.intake.handlers import channels as room
from tongpin.intake.handlers import roster
from tongpin.intake.handlers.common import Trace
from tongpin.intake.memory import IntakeStores
from tongpin.shared.problems import Conflict, Invalid, NotFound
from tongpin.shared.testing.memory import staged_events

pytestmark = pytest.mark.unit

TRACE = Trace("corr-roster", None)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _channel(channel_id: str, kind: str = "officers", **extra: Any) -> dict[str, Any]:
    return {"_id": channel_id, "kind": kind, "name": "民警思想“吐槽”群", "external_group_id": f"g-{channel_id}",
            "unit": None, "delivery": {"adapter": "none", "url": None}, **extra}


async def _import(stores: IntakeStores, *rows: dict[str, Any]) -> roster.RosterReport:
    good, errors = validate_rows(list(rows))
    return await roster.upsert_roster(members=stores.members, rows=good, errors=errors, trace=TRACE,
                                      bureau_unit="bureau", zone=SHANGHAI)


def _officer(external_id: str, unit: str = "unit-01", **extra: Any) -> dict[str, Any]:
    return {"external_id": external_id, "name": f"民警{external_id}", "member_kind": "officer", "unit": unit, **extra}


async def test_a_channel_is_registered_once_and_changed_only_at_the_version_read(
    stores: IntakeStores, business_clock: Any
) -> None:
    stored = await room.create_channel(channels=stores.channels, document=_channel("officers-01"))
    assert stored["version"] == 1
    with pytest.raises(Conflict):
        await room.create_channel(channels=stores.channels, document=_channel("officers-02") | {
            "external_group_id": "g-officers-01"})
    changed = await room.update_channel(channels=stores.channels, channel_id="officers-01", version=1,
                                        changes={"name": "新名字"})
    assert (changed["name"], changed["version"]) == ("新名字", 2)
    with pytest.raises(Conflict):
        await room.update_channel(channels=stores.channels, channel_id="officers-01", version=1, changes={"name": "x"})
    with pytest.raises(NotFound):
        await room.update_channel(channels=stores.channels, channel_id="nobody", version=1, changes={"name": "x"})


async def test_a_roster_import_is_idempotent_and_announces_who_joined_and_left_the_headcount(
    stores: IntakeStores, business_clock: Any
) -> None:
    first = await _import(stores, _officer("P001", since="2026-01-05"), _officer("P002"),
                          {"external_id": "bad", "member_kind": "officer"})
    assert (len(first.created), len(first.rejected)) == (2, 1)
    again = await _import(stores, _officer("P001", since="2026-01-05"), _officer("P002"))
    assert (again.created, again.updated, len(again.unchanged)) == ([], [], 2)
    events = staged_events(stores.db, event_type="roster.updated")
    assert len(events) == 2
    assert events[0].data["effective_at"] == "2026-01-04T16:00:00Z"  # midnight in the bureau's zone

    moved = await _import(stores, _officer("P001", unit="unit-02"), _officer("P002", active=False))
    assert sorted(moved.updated) == sorted(first.created)
    changes = [(e.data["member_id"], e.data["unit"], e.data["active"])
               for e in staged_events(stores.db, event_type="roster.updated")[2:]]
    p1, p2 = roster.member_id_for("P001"), roster.member_id_for("P002")
    # Moving unit leaves the old headcount and joins the new one, so units add up.
    assert sorted(changes) == sorted([(p1, "unit-01", False), (p1, "unit-02", True), (p2, "unit-01", False)])
    stored = await stores.members.get(p2)
    assert stored is not None and stored["active"] is False and stored["roster_periods"][-1]["to"] is not None


async def test_joining_and_leaving_record_real_times_once_and_participation_follows(
    stores: IntakeStores, business_clock: Any
) -> None:
    await room.create_channel(channels=stores.channels, document=_channel("officers-01"))
    await _import(stores, _officer("P001", since="2026-01-01"), _officer("P002", since="2026-01-01"))
    joined_at = datetime(2026, 2, 1, 8, 0, tzinfo=UTC)
    common = {"channels": stores.channels, "members": stores.members, "memberships": stores.memberships,
              "channel_id": "officers-01", "member_id": None, "trace": TRACE, "bureau_unit": "bureau"}
    doc, changed = await room.join_channel(**common, member_external_id="P001", joined_at=joined_at)
    repeat, changed_again = await room.join_channel(**common, member_external_id="P001", joined_at=joined_at)
    assert changed and not changed_again and repeat["intervals"] == doc["intervals"]
    assert [e.data["unit"] for e in staged_events(stores.db, event_type="member.joined")] == ["unit-01"]

    at = await room.participation_at(members=stores.members, memberships=stores.memberships,
                                     at=datetime(2026, 2, 2, tzinfo=UTC))
    assert (at["officers"].joined, at["officers"].headcount) == (1, 2)
    before = await room.participation_at(members=stores.members, memberships=stores.memberships,
                                         at=datetime(2026, 1, 31, tzinfo=UTC))
    assert before["officers"].joined == 0  # past dates are measured as they were

    with pytest.raises(Invalid):
        await room.leave_channel(**common, member_external_id="P001", left_at=joined_at - timedelta(days=1))
    left, changed = await room.leave_channel(**common, member_external_id="P001", left_at=joined_at + timedelta(days=3))
    assert changed and left is not None and left["in_channel"] is False
    assert len(staged_events(stores.db, event_type="member.left")) == 1
    _, changed = await room.leave_channel(**common, member_external_id="P001", left_at=joined_at + timedelta(days=4))
    assert not changed


async def test_a_member_joins_only_the_channel_of_their_kind(stores: IntakeStores, business_clock: Any) -> None:
    await room.create_channel(channels=stores.channels, document=_channel("families-01", "families"))
    await _import(stores, _officer("P001"))
    with pytest.raises(Invalid):
        await room.join_channel(channels=stores.channels, members=stores.members, memberships=stores.memberships,
                                channel_id="families-01", member_id=None, member_external_id="P001",
                                joined_at=datetime(2026, 2, 1, tzinfo=UTC), trace=TRACE, bureau_unit="bureau")
    assert await stores.memberships.all() == []
    assert staged_events(stores.db, event_type="member.joined") == []

