"""Counselling's stores: what the handlers need of them (ports) and MongoDB's (mongo)."""

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
