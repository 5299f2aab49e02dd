"""Retention: what people wrote is removed after the retention period; ids, times and channels stay."""

from __future__ import annotations

from datetime import datetime, timedelta

from tongpin.intake.handlers.common import aware
from tongpin.intake.repository import DeliveryRepository, MessageRepository


async def purge_expired_text(
    *, messages: MessageRepository, deliveries: DeliveryRepository, retention_days: int, now: datetime
) -> dict[str, int]:
    """Delete raw text older than the retention period; ids, times and channels stay for statistics."""
    cutoff = aware(now) - timedelta(days=retention_days)
    return {
        "messages": await messages.purge_text(sent_before=cutoff, now=now),
        "deliveries": await deliveries.purge_text(created_before=cutoff, now=now),
    }
