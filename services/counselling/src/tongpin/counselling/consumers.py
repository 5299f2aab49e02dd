"""Event -> handler wiring for counselling."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tongpin.counselling import handlers as h
from tongpin.counselling.repository import CaseRepository
from tongpin.shared.envelope import CloudEvent
from tongpin.shared.events import ConcernRaised, ConcernTriaged
from tongpin.shared.messaging.consumer import Handler
from tongpin.shared.runtime import ServiceRuntime


def handlers(runtime: ServiceRuntime) -> Mapping[str, Handler]:
    repo = CaseRepository(runtime.db)

    async def on_concern_raised(event: CloudEvent, data: Any) -> None:
        await h.record_concern_text(repo=repo, event=event, concern=data)

    async def on_concern_triaged(event: CloudEvent, data: Any) -> None:
        await h.record_decision(repo=repo, event=event, decision=data)

    return {
        ConcernRaised.routing_key(): on_concern_raised,
        ConcernTriaged.routing_key(): on_concern_triaged,
    }
