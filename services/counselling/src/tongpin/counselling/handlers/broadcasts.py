"""Education tasks and notices for the channels, and intake's delivery reports."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tongpin.counselling.handlers.common import Trace, business_now, catalogue_event, new_id
from tongpin.counselling.repository.ports import BroadcastStore
from tongpin.shared import events as ev
from tongpin.shared.auth import Principal
from tongpin.shared.logging import get_logger

log = get_logger(__name__)


async def compose_broadcast(
    *, broadcasts: BroadcastStore, title: str, text: str, channel_ids: list[str], by: Principal, trace: Trace
) -> dict[str, Any]:
    """An education task or notice for the chosen channels; intake delivers it (broadcast.requested)."""
    broadcast_id = new_id("bc")
    now = business_now()
    data = ev.BroadcastRequested(broadcast_id=broadcast_id, channel_ids=channel_ids, title=title, text=text,
                                 requested_by=by.subject, requested_at=now)
    doc = {"_id": broadcast_id, "title": title, "text": text, "channel_ids": channel_ids,
           "requested_by": by.subject, "requested_at": now}
    await broadcasts.insert(doc, [catalogue_event(data, subject=broadcast_id, trace=trace)])
    log.info("broadcast.requested", broadcast_id=broadcast_id, channels=len(channel_ids))
    return doc


async def record_broadcast_delivery(*, broadcasts: BroadcastStore, delivered: ev.BroadcastDelivered) -> None:
    """Keep intake's report of one channel's delivery (the latest report per channel wins)."""
    key = f"{delivered.broadcast_id}:{delivered.channel_id}"
    existing = [d for d in await broadcasts.deliveries(delivered.broadcast_id) if d["_id"] == key]
    if existing and existing[0]["delivered_at"] > delivered.delivered_at:
        return
    await broadcasts.record_delivery({"_id": key, **delivered.model_dump(mode="python")})


async def broadcast_figures(*, broadcasts: BroadcastStore, doc: Mapping[str, Any]) -> dict[str, Any]:
    """Delivery figures of one broadcast: per channel and in total."""
    deliveries = {d["channel_id"]: d for d in await broadcasts.deliveries(doc["_id"])}
    per_channel = [
        {"channel_id": channel, "outcome": deliveries[channel]["outcome"] if channel in deliveries else "pending",
         "attempts": deliveries.get(channel, {}).get("attempts", 0),
         "delivered_at": deliveries.get(channel, {}).get("delivered_at")}
        for channel in doc["channel_ids"]
    ]
    counts = {k: sum(1 for c in per_channel if c["outcome"] == k) for k in ("delivered", "failed", "pending")}
    return {"channels": len(per_channel), **counts, "per_channel": per_channel}
