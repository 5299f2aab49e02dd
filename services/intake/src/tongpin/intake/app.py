"""create_app(settings): intake's FastAPI app and runtime. Nothing is built at import time."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from tongpin.intake import api, consumers, repository
from tongpin.intake.handlers import delivery, reading, retention
from tongpin.intake.handlers.common import business_now
from tongpin.intake.handlers.common import now_utc as system_now
from tongpin.intake.settings import IntakeSettings
from tongpin.shared.clock import Clock
from tongpin.shared.events import MAX_TEXT
from tongpin.shared.logging import get_logger
from tongpin.shared.runtime import ServiceRuntime, create_service_app
from tongpin.shared.settings import ServiceSettings
from tongpin.shared.waiting import signalled_within

log = get_logger(__name__)


async def delivery_worker(runtime: ServiceRuntime, settings: IntakeSettings) -> None:
    """Attempt due deliveries until cancelled; the schedule lives in MongoDB, so restarts lose nothing."""
    wake = asyncio.Event()
    runtime.extras["wake_delivery"] = wake.set
    deliveries = repository.DeliveryRepository(runtime.db)
    channels = repository.ChannelRepository(runtime.db)
    async with httpx.AsyncClient(timeout=settings.delivery_timeout_seconds) as http:
        while True:
            try:
                await delivery.deliver_due(deliveries=deliveries, channels=channels, settings=settings, http=http)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("delivery.worker_failed", error=str(exc))
            runtime.notify_outbox()
            await signalled_within(wake, settings.delivery_poll_seconds)
            wake.clear()


async def retention_job(runtime: ServiceRuntime, settings: IntakeSettings) -> None:
    """Purge expired text now and then; also forgets expired rate-limit counters."""
    messages = repository.MessageRepository(runtime.db)
    deliveries = repository.DeliveryRepository(runtime.db)
    guard = repository.GuardRepository(runtime.db)
    while True:
        try:
            now = system_now()
            purged = await retention.purge_expired_text(messages=messages, deliveries=deliveries,
                                                       retention_days=settings.message_retention_days, now=now)
            await guard.forget_expired(now=now)
            log.info("retention.purged", **purged)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("retention.failed", error=str(exc))
        await asyncio.sleep(settings.retention_interval_seconds)


async def reading_watch(runtime: ServiceRuntime, settings: IntakeSettings) -> None:
    """Announce unread messages past their reading target, so the on-call staff hear of them."""
    entries = repository.ReadingRepository(runtime.db)
    while True:
        try:
            if await reading.flag_overdue(reading=entries, now=business_now()):
                runtime.notify_outbox()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("reading.watch_failed", error=str(exc))
        await asyncio.sleep(settings.reading_scan_seconds)


def create_app(settings: ServiceSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    if not isinstance(settings, IntakeSettings):
        raise TypeError("intake needs IntakeSettings")
    runtime = ServiceRuntime(
        settings, indexes=repository.INDEXES, outbox_collections=repository.OUTBOX_COLLECTIONS,
        handlers=consumers.handlers, clock=clock,
    )

    async def start_loops(rt: ServiceRuntime) -> None:
        rt.spawn(delivery_worker(rt, settings), name="intake-delivery")
        rt.spawn(retention_job(rt, settings), name="intake-retention")
        rt.spawn(reading_watch(rt, settings), name="intake-reading")

    return create_service_app(
        runtime, title="Tongpin intake 受理", routers=api.routers, on_startup=[start_loops],
        description=(
            "Channels, roster and participation, messages from every source, public submissions and delivery "
            f"back out. Text people write is limited to {MAX_TEXT} characters (MAX_TEXT) and stored byte-for-byte."
        ),
    )
