"""Waiting for a signal or a deadline in loops that must stop when their service stops."""

from __future__ import annotations

import asyncio


async def signalled_within(event: asyncio.Event, seconds: float) -> bool:
    """Wait until the event is set or the time passes; True when it was set.

    Not `asyncio.wait_for`: on Python 3.11 it returns normally when the task is cancelled just as the
    event is set, so a loop waiting on it outlives its cancellation and the service's shutdown hangs.
    `asyncio.timeout` lets the cancellation through.
    """
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True
