"""create_app(settings): counselling's FastAPI app and runtime. Nothing is built at import time."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from fastapi import FastAPI

from tongpin.counselling import api, consumers, repository
from tongpin.counselling.context import CounsellingContext, build_context
from tongpin.counselling.handlers import notifications, targets
from tongpin.counselling.settings import CounsellingSettings
from tongpin.shared import clock
from tongpin.shared.auth import TokenVerifier
from tongpin.shared.clock import Clock
from tongpin.shared.logging import get_logger
from tongpin.shared.runtime import ServiceRuntime, create_service_app
from tongpin.shared.settings import ServiceSettings
from tongpin.shared.standing import Standing

log = get_logger(__name__)


async def _every(seconds: float, name: str, work: Callable[[], Awaitable[Any]]) -> None:
    """Run one timer's work forever; a failure is logged and the next tick tries again."""
    while True:
        try:
            await work()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("timer.failed", timer=name, error=repr(exc))
        await asyncio.sleep(seconds)


def _start_timers(ctx: CounsellingContext) -> Callable[[ServiceRuntime], Awaitable[None]]:
    async def start(runtime: ServiceRuntime) -> None:
        settings = ctx.settings

        async def sla() -> None:
            await targets.flag_overdue(repo=ctx.cases, staff=ctx.staff, feed=ctx.feed, now=clock.now(),
                                       webhook=ctx.webhook)

        async def reminders() -> None:
            await targets.send_talk_reminders(repo=ctx.cases, feed=ctx.feed, now=clock.now(),
                                              lead=ctx.reminder_lead, webhook=ctx.webhook)

        runtime.spawn(_every(settings.sla_check_seconds, "sla", sla), name="counselling-sla")
        runtime.spawn(_every(settings.reminder_check_seconds, "talk-reminders", reminders),
                      name="counselling-talk-reminders")
        if settings.notification_webhook_url:
            url = settings.notification_webhook_url
            secret = (settings.notification_webhook_secret.get_secret_value().encode()
                      if settings.notification_webhook_secret else b"")
            http = httpx.AsyncClient(timeout=5)
            runtime.extras["webhook_http"] = http

            async def webhook() -> None:
                await notifications.deliver_webhooks(feed=ctx.feed, http=http, url=url, secret=secret)

            runtime.spawn(_every(settings.webhook_check_seconds, "webhook", webhook), name="counselling-webhook")

    return start


def create_app(settings: ServiceSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    if settings is None:
        settings = CounsellingSettings()
    elif not isinstance(settings, CounsellingSettings):
        settings = CounsellingSettings.model_validate(settings.model_dump())
    runtime = ServiceRuntime(
        settings, indexes=repository.INDEXES, outbox_collections=repository.OUTBOX_COLLECTIONS,
        handlers=consumers.handlers, clock=clock,
    )
    ctx = build_context(settings, runtime.db)
    runtime.extras["counselling"] = ctx
    app = create_service_app(runtime, title="Tongpin counselling 疏导", routers=[api.router],
                             description="Staff, cases, dialogue, talks, sealed notes, escalation, broadcasts.",
                             on_startup=[_start_timers(ctx)])
    app.state.counselling = ctx

    async def standing(staff_id: str) -> Standing | None:
        # Counselling holds the directory itself: a deactivation or a lost role counts from the same moment.
        member = await ctx.staff.get(staff_id)
        if member is None:
            return None
        return Standing(active=bool(member.get("active", True)), roles=frozenset(member.get("roles", ())))

    app.state.staff_standing = standing
    if not (settings.jwks_url or settings.jwks_json or settings.jwt_public_key_pem):
        # Counselling verifies the tokens it signs with its own public key.
        own = settings.model_copy(update={"jwks_json": json.dumps(ctx.issuer.jwks())})
        app.state.token_verifier = TokenVerifier(own)
    return app
