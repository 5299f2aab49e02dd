"""Oversight items: opened from triage's decisions, moved as their cases move, changed by staff."""

from __future__ import annotations

from typing import Any

from tongpin.oversight.domain import items as item_domain
from tongpin.oversight.domain import validation
from tongpin.oversight.repository import ItemRepository
from tongpin.shared import clock, events
from tongpin.shared.envelope import CloudEvent
from tongpin.shared.problems import Conflict, Invalid, NotFound


def _item_events(
    item: item_domain.OversightItem, *, correlationid: str | None, traceparent: str | None
) -> list[CloudEvent]:
    return [
        events.make_event(payload, subject=item.item_id, correlationid=correlationid, traceparent=traceparent)
        for payload in item.take_events()
    ]


async def open_item(
    *, decision: events.ConcernTriaged, items: ItemRepository, correlationid: str | None, traceparent: str | None
) -> bool:
    """Open the item a triage decision routed to oversight (once per concern)."""
    item = item_domain.OversightItem.from_decision(decision)
    staged = _item_events(item, correlationid=correlationid, traceparent=traceparent)
    return await items.insert_once(item.to_document(), staged)


async def follow_case(
    *, data: events.EventData, thread_id: str, items: ItemRepository, correlationid: str | None,
    traceparent: str | None,
) -> bool:
    """Move the item of the case's concern as the case moves (at the time the case moved); False if it stays."""
    change = item_domain.CASE_CHANGES[type(data)]
    item_id = item_domain.item_id_for(thread_id)
    for _ in range(8):
        stored = await items.get(item_id)
        if stored is None:
            return False
        item = item_domain.OversightItem.from_document(stored)
        if not item.follow_case(change, at=validation.occurred_at(data)):
            return False
        staged = _item_events(item, correlationid=correlationid, traceparent=traceparent)
        document = item.to_document()
        document.pop("_id")
        if await items.replace_if_version(item_id=item_id, version=int(stored["version"]), fields=document,
                                          events=staged):
            return True
    raise RuntimeError(f"item {item_id} kept changing")


async def change_item(
    *,
    items: ItemRepository,
    item_id: str,
    version: int,
    status: str | None,
    public_summary: str | None,
    correlationid: str | None,
    traceparent: str | None,
) -> dict[str, Any]:
    """Change an item's public status and/or summary if ``version`` is current (409 otherwise)."""
    stored = await items.get(item_id)
    if stored is None:
        raise NotFound("oversight item", item_id)
    item = item_domain.OversightItem.from_document(stored)
    if item.version != version:
        raise Conflict(f"the item is at version {item.version}, not {version}", current_version=item.version)
    now = clock.now()
    try:
        if status is not None and status != item.status:
            item.change_status(to=status, at=now, public_summary=public_summary)
        elif public_summary is not None:
            item.write_summary(text=public_summary, at=now)
        else:
            raise Invalid("status", "give a new status or a public_summary")
    except item_domain.IllegalStatusChange as exc:
        raise Conflict(str(exc), current_status=exc.current, allowed=list(exc.allowed)) from exc
    except item_domain.InvalidSummary as exc:
        raise Invalid("public_summary", exc.reason) from exc
    staged = _item_events(item, correlationid=correlationid, traceparent=traceparent)
    document = item.to_document()
    document.pop("_id")
    if not await items.replace_if_version(item_id=item_id, version=version, fields=document, events=staged):
        raise Conflict("the item changed meanwhile; read it again", current_version=None)
    return {"_id": item_id, **document}
