"""create_app(settings): intake's FastAPI app and runtime. Nothing is built at import time."""

from __future__ import annotations

from fastapi import FastAPI

from tongpin.intake import api, consumers, repository
from tongpin.intake.settings import IntakeSettings
from tongpin.shared.runtime import ServiceRuntime, create_service_app
from tongpin.shared.settings import ServiceSettings


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    runtime = ServiceRuntime(
        settings, indexes=repository.INDEXES, outbox_collections=repository.OUTBOX_COLLECTIONS,
        handlers=consumers.handlers,
    )
    return create_service_app(runtime, title="Tongpin intake 受理", routers=[api.router],
                              description="Channels, roster, messages, public submissions and delivery back out.")
