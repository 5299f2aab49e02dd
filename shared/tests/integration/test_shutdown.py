"""A service stops when asked, even when its loops are woken in the same moment."""

from __future__ import annotations

import asyncio

import pytest

from tongpin.shared.runtime import ServiceRuntime
from tongpin.shared.settings import ServiceSettings

pytestmark = pytest.mark.integration


async def test_outbox_relay_woken_as_the_service_stops_still_stops(settings_env, clean_run):
    # The relay waits for "something was staged" or its poll; a write that stages events wakes it.
    # Woken in the same turn of the event loop as the shutdown, or a few turns before, it must stop.
    settings = ServiceSettings(**settings_env("probe", outbox_poll_seconds=30))
    for turns in range(4):
        runtime = ServiceRuntime(settings, indexes={}, outbox_collections=["things"])
        await runtime.start()
        try:
            await asyncio.sleep(0.3)  # the relay has found nothing and waits
            runtime.notify_outbox()
            for _ in range(turns):
                await asyncio.sleep(0)
        finally:
            stopping = asyncio.create_task(runtime.stop())
            done, _ = await asyncio.wait({stopping}, timeout=10)
        assert stopping in done, f"the service did not stop when woken {turns} turns before"
