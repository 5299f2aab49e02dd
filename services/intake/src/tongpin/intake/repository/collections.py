"""Intake's collection names and indexes: the one place that names them (the room modules use these)."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel

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


def page(cursor: Any, *, limit: int, offset: int) -> Any:
    """One page of a sorted cursor."""
    return cursor.skip(offset).limit(limit)
