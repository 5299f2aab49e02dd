"""A loop waiting for a signal stops when cancelled, whenever the cancellation lands."""

from __future__ import annotations

import asyncio

from tongpin.shared.waiting import signalled_within


async def waiting_loop(event: asyncio.Event) -> None:
    while True:
        await signalled_within(event, 30)
        event.clear()


async def test_cancelled_as_the_signal_arrives_the_loop_still_stops():
    # The signal and the cancellation land in the same turn of the event loop, or a few turns apart:
    # asyncio.wait_for on Python 3.11 swallows the cancellation for the first three.
    for turns in range(6):
        event = asyncio.Event()
        task = asyncio.create_task(waiting_loop(event))
        await asyncio.sleep(0.01)
        event.set()
        for _ in range(turns):
            await asyncio.sleep(0)
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=2)
        assert task in done, f"still running after a cancellation {turns} turns after the signal"
        assert task.cancelled()


async def test_says_whether_the_signal_came():
    event = asyncio.Event()
    assert await signalled_within(event, 0.01) is False
    event.set()
    assert await signalled_within(event, 0.01) is True
