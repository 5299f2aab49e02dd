"""In-memory stores behind the same ports as the MongoDB repositories, for handler tests without a server.

They keep documents as MongoDB would — copies in and out, the same updates and queries (matching.py) —
and keep the events a write stages in `events`, in order, as an outbox would.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from tongpin.counselling.domain.talk import Talk
from tongpin.counselling.repository.matching import apply_update, matches, project
from tongpin.counselling.repository.ports import (
    BreakGlassStore,
    BroadcastStore,
    CaseStore,
    NoteStore,
    NotificationStore,
    StaffStore,
)
from tongpin.shared.envelope import CloudEvent


class _Collection:
    """Documents by id; what goes in and out is a copy."""

    def __init__(self) -> None:
        self.docs: dict[Any, dict[str, Any]] = {}

    def insert(self, document: dict[str, Any], *, unique: Sequence[str] = ()) -> bool:
        if document["_id"] in self.docs or any(
                document.get(key) is not None and doc.get(key) == document.get(key)
                for key in unique for doc in self.docs.values()):
            return False
        self.docs[document["_id"]] = copy.deepcopy(document)
        return True

    def get(self, doc_id: Any, projection: dict[str, Any] | None = None) -> dict[str, Any] | None:
        doc = self.docs.get(doc_id)
        return None if doc is None else project(doc, projection)

    def find(self, query: dict[str, Any], projection: dict[str, Any] | None = None, *, sort: str = "_id",
             descending: bool = False) -> list[dict[str, Any]]:
        found = [doc for doc in self.docs.values() if matches(doc, query)]
        found.sort(key=lambda doc: (doc.get(sort) is not None, doc.get(sort)), reverse=descending)
        return [project(doc, projection) for doc in found]


def _page(docs: list[dict[str, Any]], limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    return docs[offset:offset + limit], len(docs)


class InMemoryCaseStore:
    """Cases and their concerns; `events` holds what their writes staged, in order."""

    def __init__(self) -> None:
        self.concern_docs = _Collection()
        self.case_docs = _Collection()
        self.events: list[CloudEvent] = []
        self._locks: dict[str, asyncio.Lock] = {}

    def lock(self, case_id: str) -> asyncio.Lock:
        return self._locks.setdefault(case_id, asyncio.Lock())

    async def merge_concern(self, concern_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        doc = self.concern_docs.docs.setdefault(concern_id, {"_id": concern_id})
        apply_update(doc, {"$set": fields})
        return copy.deepcopy(doc)

    async def get_concern(self, concern_id: str) -> dict[str, Any] | None:
        return self.concern_docs.get(concern_id)

    async def concerns(self, concern_ids: Sequence[str]) -> list[dict[str, Any]]:
        return self.concern_docs.find({"_id": {"$in": list(concern_ids)}})

    async def concerns_merged_into(self, primary_concern_id: str) -> list[dict[str, Any]]:
        return self.concern_docs.find({"merged_into": primary_concern_id})

    async def forget_text(self, concern_id: str) -> None:
        if concern_id in self.concern_docs.docs:
            apply_update(self.concern_docs.docs[concern_id], {"$unset": {"text": ""}})

    async def insert_case(self, document: dict[str, Any], events: list[CloudEvent]) -> bool:
        if not self.case_docs.insert(document):
            return False
        self.events += events
        return True

    async def get_case(self, case_id: str) -> dict[str, Any] | None:
        return self.case_docs.get(case_id)

    async def save_case(
        self, case_id: str, *, expected_version: int, update: dict[str, Any], events: list[CloudEvent]
    ) -> bool:
        doc = self.case_docs.docs.get(case_id)
        if doc is None or doc["version"] != expected_version:
            return False
        apply_update(doc, update)
        self.events += events
        return True

    async def save_talk_reminder(self, case_id: str, talk: Talk) -> None:
        if case_id in self.case_docs.docs:
            reminded = {f"talks.{talk.talk_id}.reminded_for": talk.reminded_for}
            apply_update(self.case_docs.docs[case_id], {"$set": reminded})

    async def flag(self, case_id: str, fields: dict[str, Any]) -> None:
        if case_id in self.case_docs.docs:
            apply_update(self.case_docs.docs[case_id], {"$set": fields})

    async def list_cases(self, *, query: dict[str, Any], limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        docs = self.case_docs.find(query, {"dialogue": 0}, sort="opened_at", descending=True)
        return _page(docs, limit, offset)

    async def find_cases(self, query: dict[str, Any], projection: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return self.case_docs.find(query, {k: v for k, v in (projection or {"dialogue": 0}).items() if k != "outbox"})

    async def case_with_escalation(self, escalation_id: str) -> dict[str, Any] | None:
        found = self.case_docs.find({"escalation_ids": escalation_id})
        return found[0] if found else None

    async def count_live_for(self, staff_id: str) -> int:
        return len(self.case_docs.find({"assignee_id": staff_id, "state": {"$ne": "resolved"}}))


class InMemoryStaffStore:
    """The staff directory, login attempts and throttle counters; `events` holds the staff.updated staged."""

    def __init__(self) -> None:
        self.staff_docs = _Collection()
        self.attempts: list[dict[str, Any]] = []
        self.counters = _Collection()
        self.events: list[CloudEvent] = []

    async def insert(self, document: dict[str, Any], events: list[CloudEvent]) -> bool:
        if not self.staff_docs.insert(document, unique=("username",)):
            return False
        self.events += events
        return True

    async def get(self, staff_id: str) -> dict[str, Any] | None:
        return self.staff_docs.get(staff_id)

    async def by_username(self, username: str) -> dict[str, Any] | None:
        found = self.staff_docs.find({"username": username})
        return found[0] if found else None

    async def update(
        self, staff_id: str, *, update: dict[str, Any], events: list[CloudEvent], expected_version: int | None = None
    ) -> dict[str, Any] | None:
        doc = self.staff_docs.docs.get(staff_id)
        if doc is None or (expected_version is not None and doc["version"] != expected_version):
            return None
        apply_update(doc, update)
        self.events += events
        return copy.deepcopy(doc)

    async def page(self, *, query: dict[str, Any], limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        return _page(self.staff_docs.find(query, {"password_hash": 0}), limit, offset)

    async def find(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        return self.staff_docs.find(query, {"password_hash": 0})

    async def record_attempt(self, document: dict[str, Any]) -> None:
        self.attempts.append(copy.deepcopy(document))

    async def attempts_since(self, username: str, since: datetime) -> list[dict[str, Any]]:
        found = [a for a in self.attempts if a["username"] == username and a["at"] >= since]
        return sorted(copy.deepcopy(found), key=lambda a: a["at"])

    async def throttle_counter(self, key: str) -> dict[str, Any] | None:
        return self.counters.get(key)

    async def save_throttle_counter(self, key: str, *, version: int | None, fields: dict[str, Any]) -> bool:
        if version is None:
            return self.counters.insert({"_id": key, **fields, "version": 1})
        doc = self.counters.docs.get(key)
        if doc is None or doc["version"] != version:
            return False
        apply_update(doc, {"$set": fields, "$inc": {"version": 1}})
        return True

    async def change_throttle_counter(self, key: str, update: dict[str, Any]) -> None:
        if key in self.counters.docs:
            apply_update(self.counters.docs[key], {**update, "$inc": {"version": 1, **update.get("$inc", {})}})


class InMemoryNoteStore:
    """Sealed notes (ciphertext only), every read, and refused attempts."""

    def __init__(self) -> None:
        self.notes = _Collection()
        self.reads: list[dict[str, Any]] = []
        self.denials: list[dict[str, Any]] = []

    async def insert(self, document: dict[str, Any]) -> None:
        self.notes.insert(document)

    async def get(self, note_id: str) -> dict[str, Any] | None:
        return self.notes.get(note_id)

    async def for_case(self, case_id: str) -> list[dict[str, Any]]:
        return self.notes.find({"case_id": case_id}, {"sealed": 0}, sort="created_at")

    async def record_read(self, document: dict[str, Any]) -> None:
        self.reads.append(copy.deepcopy(document))

    async def reads_of(self, note_id: str) -> list[dict[str, Any]]:
        return sorted((copy.deepcopy(r) for r in self.reads if r["note_id"] == note_id), key=lambda r: r["at"])

    async def record_denial(self, document: dict[str, Any]) -> None:
        self.denials.append(copy.deepcopy(document))


class InMemoryNotificationStore:
    """Each staff member's feed."""

    def __init__(self) -> None:
        self.feed = _Collection()

    async def add(self, document: dict[str, Any]) -> bool:
        return self.feed.insert(document)

    async def for_staff(
        self, staff_id: str, *, unread_only: bool, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        query: dict[str, Any] = {"staff_id": staff_id, **({"read_at": None} if unread_only else {})}
        return _page(self.feed.find(query, {"webhook_pending": 0}, sort="created_at", descending=True), limit, offset)

    async def mark_read(self, notification_id: str, *, staff_id: str, at: datetime) -> dict[str, Any] | None:
        doc = self.feed.docs.get(notification_id)
        if doc is None or doc["staff_id"] != staff_id:
            return None
        doc["read_at"] = at
        return copy.deepcopy(doc)

    async def webhook_pending(self, limit: int = 50) -> list[dict[str, Any]]:
        return self.feed.find({"webhook_pending": True})[:limit]

    async def webhook_done(self, notification_id: str, *, at: datetime) -> None:
        if notification_id in self.feed.docs:
            apply_update(self.feed.docs[notification_id], {"$set": {"webhook_pending": False, "webhook_sent_at": at}})


class InMemoryBroadcastStore:
    """Broadcasts and intake's delivery reports; `events` holds the broadcast.requested staged."""

    def __init__(self) -> None:
        self.broadcasts = _Collection()
        self.delivery_docs = _Collection()
        self.events: list[CloudEvent] = []

    async def insert(self, document: dict[str, Any], events: list[CloudEvent]) -> None:
        self.broadcasts.insert(document)
        self.events += events

    async def get(self, broadcast_id: str) -> dict[str, Any] | None:
        return self.broadcasts.get(broadcast_id)

    async def page(self, *, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        return _page(self.broadcasts.find({}, sort="requested_at", descending=True), limit, offset)

    async def record_delivery(self, document: dict[str, Any]) -> None:
        self.delivery_docs.docs[document["_id"]] = copy.deepcopy(document)

    async def deliveries(self, broadcast_id: str) -> list[dict[str, Any]]:
        return self.delivery_docs.find({"broadcast_id": broadcast_id})


class InMemoryBreakGlassStore:
    """Reads through the glass."""

    def __init__(self) -> None:
        self.reads = _Collection()

    async def insert(self, document: dict[str, Any]) -> None:
        self.reads.insert(document)

    async def page(self, *, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        return _page(self.reads.find({}, sort="at", descending=True), limit, offset)

    async def months(self) -> list[str]:
        return [doc["month"] for doc in self.reads.docs.values()]


def _conforming() -> Iterable[object]:
    """Checked by mypy: each in-memory store answers to the port its MongoDB twin answers to."""
    cases: CaseStore = InMemoryCaseStore()
    staff: StaffStore = InMemoryStaffStore()
    notes: NoteStore = InMemoryNoteStore()
    feed: NotificationStore = InMemoryNotificationStore()
    broadcasts: BroadcastStore = InMemoryBroadcastStore()
    glass: BreakGlassStore = InMemoryBreakGlassStore()
    return (cases, staff, notes, feed, broadcasts, glass)
