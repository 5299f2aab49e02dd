"""What every room of intake's handlers shares: the two clocks, the trace ids, retry pauses."""


from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from tongpin.shared import clock


def now_utc() -> datetime:
    """The system time: for rate limits, lock-outs, deliveries and retention (never stretched by a demo clock)."""
    return datetime.now(UTC)


def business_now() -> datetime:
    """When something happens in the bureau's business: the runtime's clock (tongpin.shared.clock)."""
    return clock.now()


async def pause(attempt: int) -> None:
    """Wait a little before retrying a write that lost an optimistic-concurrency race."""
    if attempt:
        await asyncio.sleep(min(0.5, 0.02 * attempt))


def aware(moment: datetime) -> datetime:
    """A moment in UTC; a naive one (as stored) is taken as UTC."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Trace:
    """Ids a request or event carries into the events it causes."""

    correlation_id: str | None = None
    traceparent: str | None = None

