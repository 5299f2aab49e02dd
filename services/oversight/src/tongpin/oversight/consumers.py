"""Event -> handler wiring for oversight: it binds every type except the three that carry text."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tongpin.oversight.repository import LedgerRepository
from tongpin.shared.envelope import CloudEvent
from tongpin.shared.events import CONSUMES
from tongpin.shared.messaging.consumer import Handler
from tongpin.shared.runtime import ServiceRuntime


def handlers(runtime: ServiceRuntime) -> Mapping[str, Handler]:
    repo = LedgerRepository(runtime.db)

    async def on_lifecycle_event(event: CloudEvent, data: Any) -> None:
        await repo.append_once({"_id": event.id, "type": event.type, "source": event.source,
                                "subject": event.subject, "time": event.time, "data": data.model_dump(mode="json")})

    return dict.fromkeys(CONSUMES["oversight"], on_lifecycle_event)
