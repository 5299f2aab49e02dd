"""Intake's commands and event handlers, one module per room; dependencies arrive as parameters.

Rooms: ``channels`` (channels, membership, participation), ``roster`` (the roster import and whose unit a
person counts in), ``messages`` (accepting a message once), ``public`` (the public form, receipt codes and
their threads), ``delivery`` (replies and broadcasts posted back out), ``retention`` (removing old text) and
``reading`` (the reading list). What every room shares (the two clocks, the trace ids) is here.
"""

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

