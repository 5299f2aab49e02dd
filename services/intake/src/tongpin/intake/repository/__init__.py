"""Intake's repositories, one module per room; ``collections`` is the only module that names collections."""

from tongpin.intake.repository.channels import ChannelRepository, MemberRepository, MembershipRepository
from tongpin.intake.repository.collections import (
    CHANNELS,
    COUNTERS,
    DELIVERIES,
    INDEXES,
    LOCKOUTS,
    MEMBERS,
    MEMBERSHIPS,
    MESSAGES,
    OUTBOX_COLLECTIONS,
    READING,
    RECEIPTS,
)
from tongpin.intake.repository.delivery import DeliveryRepository
from tongpin.intake.repository.messages import MessageRepository
from tongpin.intake.repository.public import GuardRepository, ReceiptRepository
from tongpin.intake.repository.reading import ReadingRepository

__all__ = [
    "CHANNELS", "COUNTERS", "DELIVERIES", "INDEXES", "LOCKOUTS", "MEMBERS", "MEMBERSHIPS", "MESSAGES",
    "OUTBOX_COLLECTIONS", "READING", "RECEIPTS", "ChannelRepository", "DeliveryRepository", "GuardRepository",
    "MemberRepository", "MembershipRepository", "MessageRepository", "ReadingRepository", "ReceiptRepository",
]
