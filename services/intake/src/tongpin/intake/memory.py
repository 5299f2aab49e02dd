"""Intake's repositories on an in-memory database: the classes of ``repository.py`` themselves, for handler
unit tests that need no server (``tongpin.shared.testing.memory`` says what the database keeps)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from pymongo.asynchronous.database import AsyncDatabase

from tongpin.intake import repository as r
from tongpin.shared.testing.memory import MemoryDatabase


@dataclass
class IntakeStores:
    """Every intake repository over one in-memory database."""

    db: MemoryDatabase
    channels: r.ChannelRepository
    members: r.MemberRepository
    memberships: r.MembershipRepository
    messages: r.MessageRepository
    receipts: r.ReceiptRepository
    deliveries: r.DeliveryRepository
    guard: r.GuardRepository
    reading: r.ReadingRepository


def in_memory() -> IntakeStores:
    """Fresh, empty repositories with intake's unique indexes."""
    memory = MemoryDatabase(r.INDEXES)
    db = cast("AsyncDatabase[Any]", memory)
    return IntakeStores(
        db=memory, channels=r.ChannelRepository(db), members=r.MemberRepository(db),
        memberships=r.MembershipRepository(db), messages=r.MessageRepository(db), receipts=r.ReceiptRepository(db),
        deliveries=r.DeliveryRepository(db), guard=r.GuardRepository(db), reading=r.ReadingRepository(db),
    )
