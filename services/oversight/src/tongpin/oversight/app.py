"""create_app(settings): oversight's FastAPI app and runtime. Nothing is built at import time."""

from __future__ import annotations

from fastapi import FastAPI

from tongpin.oversight import api, consumers, repository
from tongpin.oversight.handlers.ledger import keep_daily_digests
from tongpin.oversight.settings import OversightSettings
from tongpin.shared.clock import Clock
from tongpin.shared.runtime import ServiceRuntime, create_service_app
from tongpin.shared.settings import ServiceSettings


async def _start_digests(runtime: ServiceRuntime) -> None:
    every = getattr(runtime.settings, "digest_every_seconds", 3600.0)
    runtime.spawn(keep_daily_digests(ledger=consumers.ledger_repository(runtime), every_seconds=every,
                                              zone=runtime.settings.bureau_zone),
                  name="ledger-daily-digest")


def create_app(settings: ServiceSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or OversightSettings()
    runtime = ServiceRuntime(
        settings, indexes=repository.INDEXES, outbox_collections=repository.OUTBOX_COLLECTIONS,
        handlers=consumers.handlers, clock=clock,
    )
    return create_service_app(runtime, title="Tongpin oversight 监督", routers=api.routers,
                              description="External oversight items, the audit ledger and statistics.",
                              on_startup=[_start_digests])
