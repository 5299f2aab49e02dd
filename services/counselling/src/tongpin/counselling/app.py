"""create_app(settings): counselling's FastAPI app and runtime. Nothing is built at import time."""

from __future__ import annotations

from fastapi import FastAPI

from tongpin.counselling import api, consumers, repository
from tongpin.counselling.settings import CounsellingSettings
from tongpin.shared.runtime import ServiceRuntime, create_service_app
from tongpin.shared.settings import ServiceSettings


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or CounsellingSettings()
    runtime = ServiceRuntime(
        settings, indexes=repository.INDEXES, outbox_collections=repository.OUTBOX_COLLECTIONS,
        handlers=consumers.handlers,
    )
    return create_service_app(runtime, title="Tongpin counselling 疏导", routers=[api.router],
                              description="Staff, cases, dialogue, talks, sealed notes, escalation, broadcasts.")
