"""Each person's open load, which every decision reads: counted once, then kept in step with triage's own
writes (one more for a new item; read again after any other change), and always equal to a recount."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from tongpin.shared.mongo import service_database
from tongpin.shared.testing.commands import SentCommands
from tongpin.triage.repository import StaffRepository

pytestmark = pytest.mark.integration

AT = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
STAFF = ["s1", "s2", "s3"]


@dataclass
class Setup:
    staff: StaffRepository
    db: Any
    sent: SentCommands


@pytest.fixture
async def setup(mongodb_url, run_id) -> AsyncIterator[Setup]:
    """Triage's staff repository on a database of its own, with the commands its client sends."""
    sent = SentCommands()
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongodb_url, tz_aware=True, event_listeners=[sent])
    db = service_database(client, f"{run_id}_triage_load")
    try:
        yield Setup(StaffRepository(db), db, sent)
    finally:
        await client.drop_database(db.name)
        await client.close()


async def recount(db: Any) -> dict[str, int]:
    counts = Counter([d.get("assignee_id") async for d in db["workload"].find({"open": True})])
    return {staff_id: n for staff_id, n in counts.items() if staff_id in STAFF}


async def test_open_load_is_counted_once_and_stays_equal_to_a_recount(setup):
    staff, db, listener = setup.staff, setup.db, setup.sent
    assert await staff.open_load(STAFF) == {}
    for i in range(12):
        await staff.add_work(f"c{i:02d}", assignee_id=STAFF[i % 3] if i < 11 else None, at=AT)
        await staff.add_work(f"c{i:02d}", assignee_id="s3", at=AT)  # a redelivery changes nothing
        assert await staff.open_load(STAFF) == await recount(db)
    assert await staff.open_load(STAFF) == {"s1": 4, "s2": 4, "s3": 3}
    assert listener.count("aggregate") == 1  # twelve new items, one count

    await staff.reassign_work("c00", assignee_id="s2", open_=True)
    assert await staff.open_load(["s1", "s2"]) == {"s1": 3, "s2": 5} == {
        k: v for k, v in (await recount(db)).items() if k in ("s1", "s2")}
    await staff.reassign_work("c01", assignee_id="s2", open_=False)  # closed by an override
    await staff.link_case("case-1", concern_id="c02", at=AT)
    await staff.assign_case("case-1", assignee_id="s1", at=AT)  # the case's work moves to s1
    assert await staff.open_load(STAFF) == await recount(db) == {"s1": 4, "s2": 4, "s3": 2}
    await staff.resolve_case("case-1", ["c02"])
    assert await staff.open_load(STAFF) == await recount(db) == {"s1": 3, "s2": 4, "s3": 2}
    await staff.reopen_case("case-1")
    assert await staff.open_load(STAFF) == await recount(db) == {"s1": 4, "s2": 4, "s3": 2}
    # A case counselling assigned before triage knew its concern: a placeholder item, folded in later.
    await staff.assign_case("case-2", assignee_id="s1", at=AT)
    assert await staff.open_load(STAFF) == await recount(db) == {"s1": 5, "s2": 4, "s3": 2}
    await staff.link_case("case-2", concern_id="c05", at=AT)  # c05 moves from s3 to the case's s1
    assert await staff.open_load(STAFF) == await recount(db) == {"s1": 5, "s2": 4, "s3": 1}
    assert listener.count("aggregate") <= 8  # read again only after changes other than a new item


async def test_cases_opened_and_assigned_move_the_load_without_counting_it_again(setup):
    staff, db, listener = setup.staff, setup.db, setup.sent
    for i in range(6):
        await staff.add_work(f"c{i:02d}", assignee_id=STAFF[i % 3], at=AT)
    assert await staff.open_load(STAFF) == {"s1": 2, "s2": 2, "s3": 2}
    for i in range(6):  # as every concern that becomes a case: opened from it, then assigned
        await staff.link_case(f"case-{i}", concern_id=f"c{i:02d}", at=AT)
        await staff.assign_case(f"case-{i}", assignee_id="s1", at=AT)
        assert await staff.open_load(STAFF) == await recount(db)
    assert await staff.open_load(STAFF) == {"s1": 6}
    await staff.assign_case("case-0", assignee_id="s2", at=AT)  # reassigned
    assert await staff.open_load(STAFF) == await recount(db) == {"s1": 5, "s2": 1}
    assert listener.count("aggregate") == 1

    # Assignments of one case, its opening from another concern and new work, all at once: whatever the
    # interleaving, the loads equal a recount.
    for round_ in range(3):
        await asyncio.gather(
            *(staff.assign_case("case-1", assignee_id=who, at=AT) for who in STAFF),
            staff.link_case("case-1", concern_id=f"n{round_}-linked", at=AT),
            *(staff.add_work(f"n{round_}-{i}", assignee_id=STAFF[i % 3], at=AT) for i in range(5)),
        )
        assert await staff.open_load(STAFF) == await recount(db)
