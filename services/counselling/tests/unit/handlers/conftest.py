"""Counselling's handlers against its own repositories on the in-memory database: no server, a simulated clock,
real domain code."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tongpin.counselling.domain.sla import DEFAULT_TARGETS
from tongpin.counselling.handlers import case_opening
from tongpin.counselling.handlers.common import Trace
from tongpin.counselling.memory import in_memory
from tongpin.shared import clock
from tongpin.shared import events as ev
from tongpin.shared.auth import Principal
from tongpin.shared.clock import SimulatedClock
from tongpin.shared.envelope import CloudEvent
from tongpin.shared.testing.memory import staged_events

START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


class World:
    """The six repositories on one in-memory database, a clock, and the two halves of a concern as intake and
    triage send them."""

    def __init__(self, at: datetime) -> None:
        stores = in_memory()
        self.db = stores.db
        self.cases = stores.cases
        self.staff = stores.staff
        self.notes = stores.notes
        self.feed = stores.feed
        self.broadcasts = stores.broadcasts
        self.glass = stores.glass
        self.targets = DEFAULT_TARGETS
        self.clock = SimulatedClock(at)
        self.trace = Trace(correlationid="corr-1")

    def now(self) -> datetime:
        return self.clock.now()

    def later(self, **delta: float) -> datetime:
        self.clock.advance(timedelta(**delta))
        return self.clock.now()

    async def add_staff(self, staff_id: str, *roles: str, unit: str | None = "unit-a", on_call: bool = False,
                        on_leave: bool = False, active: bool = True) -> Principal:
        await self.staff.insert({"_id": staff_id, "username": staff_id, "name": f"name {staff_id}",
                                 "password_hash": "-", "roles": list(roles), "skills": [], "unit": unit,
                                 "active": active, "on_leave": on_leave, "on_call": on_call, "version": 1}, [])
        return Principal(subject=staff_id, roles=frozenset(roles), name=f"name {staff_id}")

    def raised(self, concern_id: str, *, text: str = "我没有住房，没法结婚。", channel_id: str = "ch-officers",
               **fields: Any) -> tuple[CloudEvent, ev.ConcernRaised]:
        data = ev.ConcernRaised(concern_id=concern_id, channel_id=channel_id, channel_kind="officers", origin="channel",
                                author_member_id="m-1", unit="unit-a", text=text, sent_at=self.now(), **fields)
        return ev.make_event(data, subject=concern_id), data

    def triaged(self, concern_id: str, *, route: str = "answer_online", assignee_role: str | None = "political_worker",
                assignee_id: str | None = None, severity: str = "medium", category: str = "housing",
                **fields: Any) -> tuple[CloudEvent, ev.ConcernTriaged]:
        data = ev.ConcernTriaged(concern_id=concern_id, channel_id="ch-officers", channel_kind="officers",
                                 unit="unit-a", about_officer_id="officer-1", category=category, severity=severity,
                                 route=route, assignee_role=assignee_role, assignee_id=assignee_id, ruleset_version=1,
                                 triaged_at=self.now(), **fields)
        return ev.make_event(data, subject=concern_id, traceparent=None), data

    async def text_arrives(self, concern_id: str, **fields: Any) -> None:
        event, data = self.raised(concern_id, **fields)
        await case_opening.record_concern_text(repo=self.cases, staff=self.staff, feed=self.feed,
                                               targets=self.targets, event=event, concern=data, webhook=False)

    async def decision_arrives(self, concern_id: str, **fields: Any) -> None:
        event, data = self.triaged(concern_id, **fields)
        await case_opening.record_decision(repo=self.cases, staff=self.staff, feed=self.feed, targets=self.targets,
                                           event=event, decision=data, webhook=False)

    async def open_case(self, concern_id: str = "c-1", **decision: Any) -> dict[str, Any]:
        """Both halves arrive; the case as stored."""
        await self.text_arrives(concern_id)
        await self.decision_arrives(concern_id, **decision)
        doc = await self.cases.get_case(f"case-{concern_id}")
        assert doc is not None
        return doc

    def docs(self, collection: str) -> dict[Any, dict[str, Any]]:
        """A collection's stored documents by id (the database's own, not copies)."""
        return self.db[collection].documents

    def rows(self, collection: str) -> list[dict[str, Any]]:
        """A collection's stored documents in the order they were written."""
        return list(self.docs(collection).values())

    def staged(self, collection: str = "cases") -> list[CloudEvent]:
        """The events staged in one collection's outboxes, in order."""
        return staged_events(self.db, collection=collection)

    def event_types(self) -> list[str]:
        return [e.type.removesuffix(".v1") for e in self.staged()]

    async def feed_of(self, staff_id: str) -> list[dict[str, Any]]:
        docs, _ = await self.feed.for_staff(staff_id, unread_only=False, limit=100, offset=0)
        return docs


@pytest.fixture
def world() -> Iterator[World]:
    w = World(START)
    with clock.using(w.clock):
        yield w
