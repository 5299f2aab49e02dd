"""create_app(settings): triage's FastAPI app and runtime. Nothing is built at import time."""

from __future__ import annotations

from fastapi import FastAPI

from tongpin.shared.clock import Clock
from tongpin.shared.runtime import ServiceRuntime, create_service_app
from tongpin.shared.settings import ServiceSettings
from tongpin.triage import api, consumers, judgments, repository
from tongpin.triage.domain import warm_up
from tongpin.triage.settings import TriageSettings


async def _prepare(runtime: ServiceRuntime) -> None:
    await judgments.ensure_default_ruleset(rulesets=repository.RuleSetRepository(runtime.db))
    models = repository.ModelRepository(runtime.db)
    settings = runtime.settings
    path = settings.model_path if isinstance(settings, TriageSettings) else judgments.PACKAGED_MODEL
    await judgments.ensure_default_model(models=models, path=path)
    modelbook = consumers.modelbook(runtime)
    await modelbook.current()  # load the running model now, not on the first message
    runtime.reports["judgment"] = modelbook.report
    warm_up()


def create_app(settings: ServiceSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or TriageSettings()
    runtime = ServiceRuntime(
        settings, indexes=repository.INDEXES, outbox_collections=repository.OUTBOX_COLLECTIONS,
        handlers=consumers.handlers, clock=clock,
    )
    return create_service_app(runtime, title="Tongpin triage 研判", routers=api.routers,
                              description="Explainable judgment of concerns, risk-first queue, routing.",
                              on_startup=[_prepare])
