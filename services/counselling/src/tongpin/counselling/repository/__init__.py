"""Counselling's stores: what the handlers need of them (ports), MongoDB's (mongo), and in memory (memory)."""

from tongpin.counselling.repository.mongo import (
    INDEXES,
    OUTBOX_COLLECTIONS,
    BreakGlassRepository,
    BroadcastRepository,
    CaseRepository,
    DocumentLocks,
    NoteRepository,
    NotificationRepository,
    StaffRepository,
)

__all__ = [
    "INDEXES",
    "OUTBOX_COLLECTIONS",
    "BreakGlassRepository",
    "BroadcastRepository",
    "CaseRepository",
    "DocumentLocks",
    "NoteRepository",
    "NotificationRepository",
    "StaffRepository",
]
