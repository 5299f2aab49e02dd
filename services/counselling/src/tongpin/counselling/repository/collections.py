"""Counselling's collection names and indexes: the one place that names them (the room modules use these)."""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING, IndexModel

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
