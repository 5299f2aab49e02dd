"""The only module that knows intake's collection names."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from tongpin.shared.envelope import CloudEvent
from tongpin.shared.messaging.outbox import OUTBOX_FIELDS, stage, with_outbox

CHANNELS = "channels"
MEMBERS = "members"
MEMBERSHIPS = "memberships"
MESSAGES = "messages"
RECEIPTS = "receipts"
DELIVERIES = "deliveries"
COUNTERS = "guard_counters"
LOCKOUTS = "receipt_lockouts"
READING = "reading_list"

INDEXES = {
    CHANNELS: [
        IndexModel([("external_group_id", ASCENDING)], unique=True, name="external_group_id"),
        IndexModel([("kind", ASCENDING)], name="kind"),
    ],
    MEMBERS: [
        IndexModel([("external_id", ASCENDING)], unique=True, name="external_id"),
        IndexModel([("member_kind", ASCENDING), ("unit", ASCENDING)], name="kind_unit"),
    ],
    MEMBERSHIPS: [
        IndexModel([("channel_id", ASCENDING)], name="channel"),
        IndexModel([("member_id", ASCENDING)], name="member"),
    ],
    MESSAGES: [
        IndexModel([("source_message_id", ASCENDING)], unique=True, name="source_message_id"),
        IndexModel([("channel_id", ASCENDING), ("sent_at", DESCENDING)], name="channel_sent"),
        IndexModel([("sent_at", ASCENDING)], name="sent_at"),
        IndexModel([("receipt_id", ASCENDING)], name="receipt"),
    ],
    RECEIPTS: [IndexModel([("created_at", ASCENDING)], name="created_at")],
    DELIVERIES: [
        IndexModel([("status", ASCENDING), ("next_attempt_at", ASCENDING)], name="due"),
        IndexModel([("created_at", ASCENDING)], name="created_at"),
    ],
    COUNTERS: [IndexModel([("expires_at", ASCENDING)], name="expires_at")],
    READING: [
        IndexModel([("status", ASCENDING), ("due_at", ASCENDING)], name="status_due"),
        IndexModel([("unit", ASCENDING), ("status", ASCENDING)], name="unit_status"),
    ],
}
OUTBOX_COLLECTIONS = [MESSAGES, MEMBERS, MEMBERSHIPS, DELIVERIES, READING]


def _page(cursor: Any, *, limit: int, offset: int) -> Any:
    return cursor.skip(offset).limit(limit)


class ChannelRepository:
    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._channels = database[CHANNELS]

    async def insert(self, document: dict[str, Any]) -> bool:
        """Insert a new channel; False when its id or external group id is taken."""
        try:
            await self._channels.insert_one(document)
        except DuplicateKeyError:
            return False
        return True

    async def get(self, channel_id: str) -> dict[str, Any] | None:
        return await self._channels.find_one({"_id": channel_id})

    async def update(self, channel_id: str, *, version: int, changes: dict[str, Any]) -> dict[str, Any] | None:
        """Apply changes if the stored version matches; None otherwise."""
        return await self._channels.find_one_and_update(
            {"_id": channel_id, "version": version}, {"$set": changes, "$inc": {"version": 1}},
            return_document=ReturnDocument.AFTER,
        )

    async def listing(self, *, kind: str | None = None) -> list[dict[str, Any]]:
        query = {"kind": kind} if kind else {}
        return await self._channels.find(query).sort("_id", ASCENDING).to_list()

    async def first_of_kind(self, kind: str) -> dict[str, Any] | None:
        found = await self._channels.find({"kind": kind}).sort("_id", ASCENDING).limit(1).to_list()
        return found[0] if found else None


class MemberRepository:
    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._members = database[MEMBERS]

    async def get(self, member_id: str) -> dict[str, Any] | None:
        return await self._members.find_one({"_id": member_id})

    async def by_external_id(self, external_id: str) -> dict[str, Any] | None:
        return await self._members.find_one({"external_id": external_id})

    async def officer_external_ids(self) -> set[str]:
        cursor = self._members.find({"member_kind": {"$in": ["officer", "auxiliary"]}}, {"external_id": 1})
        return {doc["external_id"] async for doc in cursor}

    async def insert(self, document: dict[str, Any], events: Sequence[CloudEvent]) -> bool:
        try:
            await self._members.insert_one(with_outbox(document, events))
        except DuplicateKeyError:
            return False
        return True

    async def update(self, member_id: str, *, version: int, update: dict[str, Any],
                     events: Sequence[CloudEvent]) -> bool:
        """Apply an update with its events if the stored version matches."""
        update = {**update, "$inc": {**update.get("$inc", {}), "version": 1}}
        result = await self._members.update_one({"_id": member_id, "version": version},
                                                stage(update, events))
        return result.modified_count == 1

    async def page(self, *, query: dict[str, Any], limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        docs = await _page(self._members.find(query, {"outbox": 0}).sort("_id", ASCENDING),
                           limit=limit, offset=offset).to_list()
        return docs, await self._members.count_documents(query)

    async def roster_of_kinds(self, kinds: Sequence[str]) -> list[dict[str, Any]]:
        return await self._members.find({"member_kind": {"$in": list(kinds)}},
                                        {"member_kind": 1, "roster_periods": 1, "unit": 1}).to_list()


class MembershipRepository:
    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._memberships = database[MEMBERSHIPS]

    async def get(self, membership_id: str) -> dict[str, Any] | None:
        return await self._memberships.find_one({"_id": membership_id})

    async def insert(self, document: dict[str, Any], events: Sequence[CloudEvent]) -> bool:
        try:
            await self._memberships.insert_one(with_outbox(document, events))
        except DuplicateKeyError:
            return False
        return True

    async def update(self, membership_id: str, *, version: int, update: dict[str, Any],
                     events: Sequence[CloudEvent]) -> bool:
        update = {**update, "$inc": {**update.get("$inc", {}), "version": 1}}
        result = await self._memberships.update_one({"_id": membership_id, "version": version},
                                                    stage(update, events))
        return result.modified_count == 1

    async def all(self, *, channel_kind: str | None = None, channel_id: str | None = None) -> list[dict[str, Any]]:
        query: dict[str, Any] = {}
        if channel_kind:
            query["channel_kind"] = channel_kind
        if channel_id:
            query["channel_id"] = channel_id
        return await self._memberships.find(query, {"outbox": 0}).to_list()


class MessageRepository:
    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._messages = database[MESSAGES]

    async def insert_new(self, document: dict[str, Any], events: list[CloudEvent]) -> tuple[dict[str, Any], bool]:
        """Insert a message with its events; on a repeated source id return the stored one instead."""
        try:
            await self._messages.insert_one(with_outbox(document, events))
        except DuplicateKeyError:
            existing = await self._messages.find_one({"source_message_id": document["source_message_id"]})
            assert existing is not None
            return existing, False
        return document, True

    async def get(self, message_id: str) -> dict[str, Any] | None:
        return await self._messages.find_one({"_id": message_id}, {"outbox": 0})

    async def page(self, *, query: dict[str, Any], limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        order = [("sent_at", DESCENDING), ("_id", ASCENDING)]
        docs = await _page(self._messages.find(query, {"outbox": 0}).sort(order), limit=limit, offset=offset).to_list()
        return docs, await self._messages.count_documents(query)

    async def many(self, message_ids: Sequence[str]) -> list[dict[str, Any]]:
        if not message_ids:
            return []
        return await self._messages.find({"_id": {"$in": list(message_ids)}}, {"outbox": 0}).to_list()

    async def of_receipt(self, receipt_id: str) -> list[dict[str, Any]]:
        return await self._messages.find({"receipt_id": receipt_id}, {"outbox": 0}).sort("sent_at", ASCENDING).to_list()

    async def set_public_status(self, concern_id: str, *, status: str, at: datetime) -> dict[str, Any] | None:
        """Record oversight's public status unless a newer one is already there."""
        return await self._messages.find_one_and_update(
            {"_id": concern_id, "$or": [{"public_status_at": None}, {"public_status_at": {"$lte": at}}]},
            {"$set": {"public_status": status, "public_status_at": at}}, return_document=ReturnDocument.AFTER,
        )

    async def purge_text(self, *, sent_before: datetime, now: datetime) -> int:
        """Remove what people wrote from messages sent before the cutoff; ids, times and channel stay."""
        result = await self._messages.update_many(
            {"sent_at": {"$lt": sent_before}, "text_purged_at": None},
            {"$set": {"text": None, "attachments": [], "contact": None, "text_purged_at": now}},
        )
        return result.modified_count


class ReceiptRepository:
    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._receipts = database[RECEIPTS]

    async def insert(self, document: dict[str, Any]) -> None:
        await self._receipts.insert_one(document)

    async def get(self, receipt_id: str) -> dict[str, Any] | None:
        return await self._receipts.find_one({"_id": receipt_id})

    async def add_entry(self, receipt_id: str, entry: dict[str, Any]) -> bool:
        """Append a thread entry once (its id makes a repeat a no-op)."""
        # Not with a filter {"thread.id": {"$ne": id}}: FerretDB 1.24 matches a thread that holds the id
        # ($ne, $nin and $not alike) and pushes it again. Entries are never removed, so the thread's length
        # is its version: push only onto the thread as read.
        for _ in range(20):
            found = await self._receipts.find_one({"_id": receipt_id}, {"thread": 1})
            if found is None:
                return False
            thread = found.get("thread") or []
            if any(e.get("id") == entry["id"] for e in thread):
                return False
            result = await self._receipts.update_one(
                {"_id": receipt_id, "thread": {"$size": len(thread)}}, {"$push": {"thread": entry}})
            if result.modified_count == 1:
                return True
        raise RuntimeError(f"receipt {receipt_id}'s thread kept changing")

    async def set_status(self, receipt_id: str, *, status: str, at: datetime) -> None:
        await self._receipts.update_one(
            {"_id": receipt_id, "$or": [{"status_at": None}, {"status_at": {"$lte": at}}]},
            {"$set": {"status": status, "status_at": at}},
        )


class DeliveryRepository:
    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._deliveries = database[DELIVERIES]

    async def insert(self, document: dict[str, Any], events: Sequence[CloudEvent] = ()) -> bool:
        """Insert a delivery; False when it already exists (a redelivered request)."""
        try:
            await self._deliveries.insert_one(with_outbox(document, events))
        except DuplicateKeyError:
            return False
        return True

    async def get(self, delivery_id: str) -> dict[str, Any] | None:
        return await self._deliveries.find_one({"_id": delivery_id}, {"outbox": 0})

    async def due(self, *, now: datetime, limit: int = 20) -> list[dict[str, Any]]:
        return await self._deliveries.find(
            {"status": "pending", "next_attempt_at": {"$lte": now}}, {"outbox": 0}
        ).sort("next_attempt_at", ASCENDING).limit(limit).to_list()

    async def claim(self, delivery_id: str, *, seen_next: datetime, lease_until: datetime) -> bool:
        """Take a due delivery for one attempt: only one worker wins, and a crash frees it when the lease ends."""
        result = await self._deliveries.update_one(
            {"_id": delivery_id, "status": "pending", "next_attempt_at": seen_next},
            {"$set": {"next_attempt_at": lease_until}},
        )
        return result.modified_count == 1

    async def record(self, delivery_id: str, *, update: dict[str, Any], events: Sequence[CloudEvent]) -> None:
        await self._deliveries.update_one({"_id": delivery_id}, stage(update, events))

    async def page(self, *, query: dict[str, Any], limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        docs = await _page(self._deliveries.find(query, {"outbox": 0, "text": 0}).sort("created_at", DESCENDING),
                           limit=limit, offset=offset).to_list()
        return docs, await self._deliveries.count_documents(query)

    async def purge_text(self, *, created_before: datetime, now: datetime) -> int:
        result = await self._deliveries.update_many(
            {"created_at": {"$lt": created_before}, "status": {"$ne": "pending"}, "text_purged_at": None},
            {"$set": {"text": None, "title": None, "text_purged_at": now}},
        )
        return result.modified_count


class GuardRepository:
    """Counters for rate limits and receipt-code lockouts, shared by every worker through the database."""

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._counters = database[COUNTERS]
        self._lockouts = database[LOCKOUTS]

    async def hit(self, key: str, *, expires_at: datetime) -> int:
        """Count one hit in a fixed window; returns the count including this one."""
        doc = await self._counters.find_one_and_update(
            {"_id": key}, {"$inc": {"count": 1}, "$setOnInsert": {"expires_at": expires_at}},
            upsert=True, return_document=ReturnDocument.AFTER,
        )
        assert doc is not None
        return int(doc["count"])

    async def count(self, key: str) -> int:
        doc = await self._counters.find_one({"_id": key})
        return int(doc["count"]) if doc else 0

    async def lockout(self, client: str) -> dict[str, Any] | None:
        return await self._lockouts.find_one({"_id": client})

    async def fail(self, client: str, *, now: datetime) -> dict[str, Any]:
        doc = await self._lockouts.find_one_and_update(
            {"_id": client}, {"$inc": {"failures": 1}, "$set": {"last_failure_at": now}},
            upsert=True, return_document=ReturnDocument.AFTER,
        )
        assert doc is not None
        return dict(doc)

    async def lock_until(self, client: str, *, until: datetime) -> None:
        await self._lockouts.update_one({"_id": client}, {"$set": {"locked_until": until}})

    async def forget_expired(self, *, now: datetime) -> None:
        await self._counters.delete_many({"expires_at": {"$lt": now}})


class ReadingRepository:
    """The reading list: one entry per message to be read, with its target, its reads and its events."""

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._items = database[READING]

    async def get(self, concern_id: str) -> dict[str, Any] | None:
        return await self._items.find_one({"_id": concern_id}, {"outbox": 0})

    async def insert(self, document: dict[str, Any]) -> bool:
        try:
            await self._items.insert_one(document)
        except DuplicateKeyError:
            return False
        return True

    async def update(self, concern_id: str, *, match: dict[str, Any], update: dict[str, Any],
                     events: Sequence[CloudEvent] = ()) -> dict[str, Any] | None:
        """Apply an update (with its events) when the entry still matches; the entry after, or None."""
        # No projection here: FerretDB 1.24's findAndModify does not implement one.
        after = await self._items.find_one_and_update(
            {"_id": concern_id, **match}, stage(update, list(events)) if events else update,
            return_document=ReturnDocument.AFTER,
        )
        return None if after is None else {k: v for k, v in after.items() if k not in OUTBOX_FIELDS}

    async def page(self, *, query: dict[str, Any], limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        # Crises first, then what is due soonest: the list reads top-down.
        order = [("crisis", DESCENDING), ("due_at", ASCENDING), ("_id", ASCENDING)]
        docs = await _page(self._items.find(query, {"outbox": 0}).sort(order), limit=limit, offset=offset).to_list()
        return docs, await self._items.count_documents(query)

    async def count(self, query: dict[str, Any]) -> int:
        return await self._items.count_documents(query)

    async def overdue(self, *, now: datetime, limit: int) -> list[dict[str, Any]]:
        """Unread entries past their target whose on-call notice has not gone out yet."""
        cursor = self._items.find({"status": "unread", "overdue_notified": False, "due_at": {"$lt": now}},
                                  {"outbox": 0}).limit(limit)
        return await cursor.to_list()
