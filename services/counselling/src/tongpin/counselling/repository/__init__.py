"""Counselling's stores: what the handlers need of them (ports), how a case is stored (documents), and the MongoDB
repositories, one module per room; ``collections`` is the only module that names collections."""

from tongpin.counselling.repository.access import BreakGlassRepository
from tongpin.counselling.repository.broadcasts import BroadcastRepository
from tongpin.counselling.repository.cases import CaseRepository
from tongpin.counselling.repository.collections import INDEXES, OUTBOX_COLLECTIONS
from tongpin.counselling.repository.locks import DocumentLocks
from tongpin.counselling.repository.notes import NoteRepository
from tongpin.counselling.repository.notifications import NotificationRepository
from tongpin.counselling.repository.staff import StaffRepository

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
