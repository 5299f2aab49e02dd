"""Oversight items over HTTP: reading them page by page, and staff changing an item's public status or summary."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from tongpin.oversight.api.dependencies import Items, ItemsRead, ItemsWrite, Limit, Offset, as_period, runtime_of
from tongpin.oversight.domain import items as item_domain
from tongpin.oversight.handlers.items import change_item
from tongpin.oversight.schemas.items import ItemPage, ItemRead, ItemUpdate
from tongpin.shared.events import OversightStatus
from tongpin.shared.problems import NotFound

router = APIRouter()


def _item_read(doc: dict[str, Any]) -> ItemRead:
    return ItemRead.model_validate({**doc, "id": doc["_id"]})


@router.get("/items", tags=["items"], summary="Oversight items, page by page")
async def list_items(
    request: Request, items: Items, _: ItemsRead, limit: Limit = 50, offset: Offset = 0,
    status: OversightStatus | None = None, period: str | None = None,
) -> ItemPage:
    start = end = None
    if period is not None:
        start, end = as_period(period).utc_bounds(runtime_of(request).settings.bureau_zone)
    docs = await items.page(offset=offset, limit=limit, status=status, start=start, end=end)
    return ItemPage(items=[_item_read(d) for d in docs], limit=limit, offset=offset)


@router.get("/items/{item_id}", tags=["items"], summary="One oversight item")
async def get_item(item_id: str, items: Items, _: ItemsRead) -> ItemRead:
    doc = await items.get(item_id)
    if doc is None:
        raise NotFound("oversight item", item_id)
    return _item_read(doc)


@router.patch("/items/{item_id}", tags=["items"], summary="Change an item's public status or summary",
              description="An item follows the counselling case opened from its concern; staff may still move it, "
                          "add the public summary (once, to an item the case's resolution closed) or mark it not "
                          "substantiated. A change the table does not allow is a 409 whose `allowed` lists the "
                          "changes allowed from the current status.\n\n" + item_domain.state_machine_markdown())
async def update_item(item_id: str, body: ItemUpdate, request: Request, items: Items, _: ItemsWrite) -> ItemRead:
    doc = await change_item(
        items=items, item_id=item_id, version=body.version, status=body.status, public_summary=body.public_summary,
        correlationid=request.state.correlation_id, traceparent=request.state.traceparent,
    )
    runtime_of(request).notify_outbox()
    return _item_read(doc)
