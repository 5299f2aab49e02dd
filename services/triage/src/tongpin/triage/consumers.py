"""Event -> handler wiring for triage."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tongpin.shared.envelope import CloudEvent
from tongpin.shared.events import ConcernRaised
from tongpin.shared.messaging.consumer import Handler
from tongpin.shared.runtime import ServiceRuntime
from tongpin.triage import handlers as h
from tongpin.triage.repository import DecisionRepository


def handlers(runtime: ServiceRuntime) -> Mapping[str, Handler]:
    repo = DecisionRepository(runtime.db)

    async def on_concern_raised(event: CloudEvent, data: Any) -> None:
        assert isinstance(data, ConcernRaised)
        await h.triage_concern(repo=repo, event=event, concern=data)

    return {ConcernRaised.routing_key(): on_concern_raised}
