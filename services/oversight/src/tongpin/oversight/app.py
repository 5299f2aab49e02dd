"""create_app(settings): oversight's FastAPI app and runtime. Nothing is built at import time."""

from __future__ import annotations

from fastapi import FastAPI

from tongpin.oversight import api, consumers, repository
from tongpin.oversight.settings import OversightSettings
from tongpin.shared.runtime import ServiceRuntime, create_service_app
from tongpin.shared.settings import ServiceSettings


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or OversightSettings()
    runtime = ServiceRuntime(
        settings, indexes=repository.INDEXES, outbox_collections=repository.OUTBOX_COLLECTIONS,
        handlers=consumers.handlers,
    )
    return create_service_app(runtime, title="Tongpin oversight 监督", routers=[api.router],
                              description="External oversight items, the audit ledger and statistics.")
