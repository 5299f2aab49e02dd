"""The MongoDB repositories: the only module that knows counselling's collection names."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from tongpin.shared.envelope import CloudEvent
from tongpin.shared.messaging.outbox import stage, with_outbox
from tongpin.shared.mongo import find_by_ids

CONCERNS = "concerns"
CASES = "cases"
STAFF = "staff"
LOGIN_ATTEMPTS = "login_attempts"
LOGIN_THROTTLE = "login_throttle"
SEALED_NOTES = "sealed_notes"
NOTE_READS = "note_reads"
ACCESS_DENIALS = "access_denials"
NOTIFICATIONS = "notifications"
BROADCASTS = "broadcasts"
BROADCAST_DELIVERIES = "broadcast_deliveries"
BREAK_GLASS_READS = "break_glass_reads"

INDEXES = {
    CONCERNS: [IndexModel([("case_id", ASCENDING)], name="case_id"),
               IndexModel([("merged_into", ASCENDING)], name="merged_into")],
    CASES: [
        IndexModel([("state", ASCENDING)], name="state"),
        IndexModel([("assignee_id", ASCENDING), ("state", ASCENDING)], name="assignee_state"),
        IndexModel([("escalation_ids", ASCENDING)], name="escalation_ids"),
        IndexModel([("opened_at", DESCENDING)], name="opened_at"),
    ],
    STAFF: [IndexModel([("username", ASCENDING)], name="username", unique=True),
            IndexModel([("roles", ASCENDING)], name="roles")],
    LOGIN_ATTEMPTS: [IndexModel([("username", ASCENDING), ("at", ASCENDING)], name="username_at")],
    SEALED_NOTES: [IndexModel([("case_id", ASCENDING), ("created_at", ASCENDING)], name="case_created")],
    NOTE_READS: [IndexModel([("note_id", ASCENDING), ("at", ASCENDING)], name="note_at")],
    ACCESS_DENIALS: [IndexModel([("at", ASCENDING)], name="at")],
    NOTIFICATIONS: [IndexModel([("staff_id", ASCENDING), ("created_at", DESCENDING)], name="staff_created"),
                    IndexModel([("webhook_pending", ASCENDING)], name="webhook_pending")],
    BROADCASTS: [IndexModel([("requested_at", DESCENDING)], name="requested_at")],
    BROADCAST_DELIVERIES: [IndexModel([("broadcast_id", ASCENDING)], name="broadcast_id")],
    BREAK_GLASS_READS: [IndexModel([("at", DESCENDING)], name="at")],
}
OUTBOX_COLLECTIONS = [CASES, STAFF, BROADCASTS]


class DocumentLocks:
    """Per-document locks around a whole load-decide-save of one case in this process.

    Single updates are already serialised by the service database's write gate
    (tongpin.shared.mongo); these locks only spare concurrent handlers needless version retries.
    """

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[tuple[str, Any], asyncio.Lock] = weakref.WeakValueDictionary()

    def __call__(self, collection: str, document_id: Any) -> asyncio.Lock:
        key = (collection, document_id)
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        return lock


class CaseRepository:
    """Cases and the concerns (text and triage decision) they were opened from."""

    def __init__(self, database: AsyncDatabase[Any], *, locks: DocumentLocks | None = None) -> None:
        self._concerns = database[CONCERNS]
        self._cases = database[CASES]
        self._locks = locks or DocumentLocks()

    def lock(self, case_id: str) -> asyncio.Lock:
        """Serialises this process's writes to one case."""
        return self._locks(CASES, case_id)

    async def merge_concern(self, concern_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Merge one half of a concern (its text, or its triage decision) and return both halves so far."""
        doc = await self._concerns.find_one_and_update(
            {"_id": concern_id}, {"$set": fields}, upsert=True, return_document=ReturnDocument.AFTER
        )
        assert doc is not None
        return doc

    async def get_concern(self, concern_id: str) -> dict[str, Any] | None:
        return await self._concerns.find_one({"_id": concern_id})

    async def concerns(self, concern_ids: Sequence[str]) -> list[dict[str, Any]]:
        return await find_by_ids(self._concerns, concern_ids)

    async def concerns_merged_into(self, primary_concern_id: str) -> list[dict[str, Any]]:
        return [doc async for doc in self._concerns.find({"merged_into": primary_concern_id})]

    async def forget_text(self, concern_id: str) -> None:
        await self._concerns.update_one({"_id": concern_id}, {"$unset": {"text": ""}})

    async def insert_case(self, document: dict[str, Any], events: list[CloudEvent]) -> bool:
        """Store a new case with the events its opening causes; False if it exists already."""
        try:
            await self._cases.insert_one(with_outbox(document, events))
        except DuplicateKeyError:
            return False
        return True

    async def get_case(self, case_id: str) -> dict[str, Any] | None:
        return await self._cases.find_one({"_id": case_id}, {"outbox": 0})

    async def save_case(
        self, case_id: str, *, expected_version: int, update: dict[str, Any], events: list[CloudEvent]
    ) -> bool:
        """Apply an update and store its events if the case still has the version read; False otherwise."""
        result = await self._cases.update_one({"_id": case_id, "version": expected_version}, stage(update, events))
        return result.modified_count == 1

    async def flag(self, case_id: str, fields: dict[str, Any]) -> None:
        """Set bookkeeping flags that are not part of the case's versioned state."""
        await self._cases.update_one({"_id": case_id}, {"$set": fields})

    async def list_cases(self, *, query: dict[str, Any], limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        total = await self._cases.count_documents(query)
        cursor = self._cases.find(query, {"outbox": 0, "dialogue": 0}).sort("opened_at", DESCENDING)
        return [doc async for doc in cursor.skip(offset).limit(limit)], total

    async def find_cases(self, query: dict[str, Any], projection: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return [doc async for doc in self._cases.find(query, projection or {"outbox": 0, "dialogue": 0})]

    async def case_with_escalation(self, escalation_id: str) -> dict[str, Any] | None:
        return await self._cases.find_one({"escalation_ids": escalation_id}, {"outbox": 0})

    async def count_live_for(self, staff_id: str) -> int:
        return await self._cases.count_documents({"assignee_id": staff_id, "state": {"$ne": "resolved"}})


class StaffRepository:
    """The staff directory and the record of login attempts."""

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._staff = database[STAFF]
        self._attempts = database[LOGIN_ATTEMPTS]
        self._throttle = database[LOGIN_THROTTLE]

    async def insert(self, document: dict[str, Any], events: list[CloudEvent]) -> bool:
        try:
            await self._staff.insert_one(with_outbox(document, events))
        except DuplicateKeyError:
            return False
        return True

    async def get(self, staff_id: str) -> dict[str, Any] | None:
        return await self._staff.find_one({"_id": staff_id}, {"outbox": 0})

    async def by_username(self, username: str) -> dict[str, Any] | None:
        return await self._staff.find_one({"username": username}, {"outbox": 0})

    async def update(
        self, staff_id: str, *, update: dict[str, Any], events: list[CloudEvent], expected_version: int | None = None
    ) -> dict[str, Any] | None:
        query: dict[str, Any] = {"_id": staff_id}
        if expected_version is not None:
            query["version"] = expected_version
        # FerretDB 1.24 refuses a projection on findAndModify, so the outbox is dropped here.
        doc = await self._staff.find_one_and_update(query, stage(update, events),
                                                    return_document=ReturnDocument.AFTER)
        if doc is not None:
            doc.pop("outbox", None)
        return doc

    async def page(self, *, query: dict[str, Any], limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        total = await self._staff.count_documents(query)
        cursor = self._staff.find(query, {"outbox": 0, "password_hash": 0}).sort("_id", ASCENDING)
        return [doc async for doc in cursor.skip(offset).limit(limit)], total

    async def find(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        return [doc async for doc in self._staff.find(query, {"outbox": 0, "password_hash": 0}).sort("_id", 1)]

    async def record_attempt(self, document: dict[str, Any]) -> None:
        await self._attempts.insert_one(document)

    async def attempts_since(self, username: str, since: datetime) -> list[dict[str, Any]]:
        cursor = self._attempts.find({"username": username, "at": {"$gte": since}}).sort("at", ASCENDING)
        return [doc async for doc in cursor]

    async def throttle_counter(self, key: str) -> dict[str, Any] | None:
        return await self._throttle.find_one({"_id": key})

    async def save_throttle_counter(self, key: str, *, version: int | None, fields: dict[str, Any]) -> bool:
        """Store a counter if it is still at the version read (None: not there yet); False if it moved."""
        if version is None:
            try:
                await self._throttle.insert_one({"_id": key, **fields, "version": 1})
            except DuplicateKeyError:
                return False
            return True
        result = await self._throttle.update_one({"_id": key, "version": version},
                                                 {"$set": fields, "$inc": {"version": 1}})
        return result.modified_count == 1

    async def change_throttle_counter(self, key: str, update: dict[str, Any]) -> None:
        await self._throttle.update_one({"_id": key}, {**update, "$inc": {"version": 1, **update.get("$inc", {})}})


class NoteRepository:
    """Sealed notes (ciphertext only), the record of every read, and refused attempts."""

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._notes = database[SEALED_NOTES]
        self._reads = database[NOTE_READS]
        self._denials = database[ACCESS_DENIALS]

    async def insert(self, document: dict[str, Any]) -> None:
        await self._notes.insert_one(document)

    async def get(self, note_id: str) -> dict[str, Any] | None:
        return await self._notes.find_one({"_id": note_id})

    async def for_case(self, case_id: str) -> list[dict[str, Any]]:
        cursor = self._notes.find({"case_id": case_id}, {"sealed": 0}).sort("created_at", ASCENDING)
        return [doc async for doc in cursor]

    async def record_read(self, document: dict[str, Any]) -> None:
        await self._reads.insert_one(document)

    async def reads_of(self, note_id: str) -> list[dict[str, Any]]:
        return [doc async for doc in self._reads.find({"note_id": note_id}).sort("at", ASCENDING)]

    async def record_denial(self, document: dict[str, Any]) -> None:
        await self._denials.insert_one(document)


class NotificationRepository:
    """Each staff member's feed; the webhook worker delivers what is pending."""

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._feed = database[NOTIFICATIONS]

    async def add(self, document: dict[str, Any]) -> bool:
        """Add one notification; False if that id is already in the feed (a redelivered cause)."""
        try:
            await self._feed.insert_one(document)
        except DuplicateKeyError:
            return False
        return True

    async def for_staff(
        self, staff_id: str, *, unread_only: bool, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        query: dict[str, Any] = {"staff_id": staff_id}
        if unread_only:
            query["read_at"] = None
        total = await self._feed.count_documents(query)
        cursor = self._feed.find(query, {"webhook_pending": 0}).sort("created_at", DESCENDING)
        return [doc async for doc in cursor.skip(offset).limit(limit)], total

    async def mark_read(self, notification_id: str, *, staff_id: str, at: datetime) -> dict[str, Any] | None:
        return await self._feed.find_one_and_update(
            {"_id": notification_id, "staff_id": staff_id}, {"$set": {"read_at": at}},
            return_document=ReturnDocument.AFTER,
        )

    async def webhook_pending(self, limit: int = 50) -> list[dict[str, Any]]:
        return [doc async for doc in self._feed.find({"webhook_pending": True}).limit(limit)]

    async def webhook_done(self, notification_id: str, *, at: datetime) -> None:
        await self._feed.update_one({"_id": notification_id},
                                    {"$set": {"webhook_pending": False, "webhook_sent_at": at}})


class BroadcastRepository:
    """Broadcasts composed by the committee or the centre, and the delivery figures intake reports."""

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._broadcasts = database[BROADCASTS]
        self._deliveries = database[BROADCAST_DELIVERIES]

    async def insert(self, document: dict[str, Any], events: list[CloudEvent]) -> None:
        await self._broadcasts.insert_one(with_outbox(document, events))

    async def get(self, broadcast_id: str) -> dict[str, Any] | None:
        return await self._broadcasts.find_one({"_id": broadcast_id}, {"outbox": 0})

    async def page(self, *, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        total = await self._broadcasts.count_documents({})
        cursor = self._broadcasts.find({}, {"outbox": 0}).sort("requested_at", DESCENDING)
        return [doc async for doc in cursor.skip(offset).limit(limit)], total

    async def record_delivery(self, document: dict[str, Any]) -> None:
        """One channel's outcome; the latest report per (broadcast, channel) wins."""
        await self._deliveries.replace_one({"_id": document["_id"]}, document, upsert=True)

    async def deliveries(self, broadcast_id: str) -> list[dict[str, Any]]:
        return [doc async for doc in self._deliveries.find({"broadcast_id": broadcast_id})]


class BreakGlassRepository:
    """Reads of cases the reader could not open, each with its stated reason."""

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._reads = database[BREAK_GLASS_READS]

    async def insert(self, document: dict[str, Any]) -> None:
        await self._reads.insert_one(document)

    async def page(self, *, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        total = await self._reads.count_documents({})
        cursor = self._reads.find({}).sort("at", DESCENDING).skip(offset).limit(limit)
        return [doc async for doc in cursor], total

    async def months(self) -> list[str]:
        """The month of every read (counted by the caller; FerretDB groups no date expressions)."""
        return [doc["month"] async for doc in self._reads.find({}, {"month": 1})]
