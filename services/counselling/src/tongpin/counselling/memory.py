"""Counselling's repositories on an in-memory database: the MongoDB classes of ``repository`` themselves, for
handler unit tests that need no server (``tongpin.shared.testing.memory`` says what the database keeps)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from pymongo.asynchronous.database import AsyncDatabase

from tongpin.counselling import repository as r
from tongpin.shared.testing.memory import MemoryDatabase


@dataclass
class CounsellingStores:
    """Every counselling repository over one in-memory database."""

    db: MemoryDatabase
    cases: r.CaseRepository
    staff: r.StaffRepository
    notes: r.NoteRepository
    feed: r.NotificationRepository
    broadcasts: r.BroadcastRepository
    glass: r.BreakGlassRepository


def in_memory() -> CounsellingStores:
    """Fresh, empty repositories with counselling's unique indexes."""
    memory = MemoryDatabase(r.INDEXES)
    db = cast("AsyncDatabase[Any]", memory)
    return CounsellingStores(
        db=memory, cases=r.CaseRepository(db), staff=r.StaffRepository(db), notes=r.NoteRepository(db),
        feed=r.NotificationRepository(db), broadcasts=r.BroadcastRepository(db), glass=r.BreakGlassRepository(db),
    )
