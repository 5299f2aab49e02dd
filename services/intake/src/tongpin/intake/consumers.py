"""Event -> handler wiring for intake."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tongpin.shared.envelope import CloudEvent
from tongpin.shared.events import ReplyRequested
from tongpin.shared.messaging.consumer import Handler
from tongpin.shared.runtime import ServiceRuntime


def handlers(runtime: ServiceRuntime) -> Mapping[str, Handler]:
    deliveries = runtime.db["deliveries"]

    async def on_reply_requested(event: CloudEvent, data: Any) -> None:
        assert isinstance(data, ReplyRequested)
        await deliveries.update_one(
            {"_id": data.reply_id},
            {"$setOnInsert": {"kind": "reply", "concern_id": data.concern_id, "status": "pending",
                              "event_id": event.id}},
            upsert=True,
        )

    return {ReplyRequested.routing_key(): on_reply_requested}
