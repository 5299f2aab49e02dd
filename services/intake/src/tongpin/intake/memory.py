"""Intake's repositories on an in-memory database: the classes of ``repository`` themselves, for handler
unit tests that need no server (``tongpin.shared.testing.memory`` says what the database keeps)."""

from __future__ import annotations

from dataclasses import dataclass

from tongpin.intake import repository as r
from tongpin.shared.testing.memory import MemoryDatabase, in_memory_stores


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
    return in_memory_stores(IntakeStores, r.INDEXES)
