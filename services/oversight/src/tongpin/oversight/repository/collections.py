"""Oversight's collection names and indexes: the one place that names them (the room modules use these)."""

from __future__ import annotations

from pymongo import ASCENDING, IndexModel

LEDGER = "ledger"
LEDGER_CLAIMS = "ledger_claims"
LEDGER_BATCHES = "ledger_batches"
DIGESTS = "digests"
ITEMS = "items"
STATISTICS = "statistics"
SUBJECTS = "subjects"
THREADS = "threads"
UNITS = "units"
REJECTED = "rejected"
AUDIT_QUERIES = "audit_queries"

INDEXES = {
    LEDGER: [
        IndexModel([("seq", ASCENDING)], name="seq", unique=True),
        IndexModel([("type", ASCENDING)], name="type"),
        IndexModel([("appended_at", ASCENDING)], name="appended_at"),
    ],
    ITEMS: [
        IndexModel([("opened_at", ASCENDING)], name="opened_at"),
        IndexModel([("status", ASCENDING)], name="status"),
    ],
    STATISTICS: [IndexModel([("kind", ASCENDING), ("unit", ASCENDING), ("key", ASCENDING)], name="scope")],
    REJECTED: [IndexModel([("recorded_at", ASCENDING)], name="recorded_at")],
    AUDIT_QUERIES: [IndexModel([("at", ASCENDING)], name="at")],
}
OUTBOX_COLLECTIONS: list[str] = [ITEMS]
