"""Broadcasts to the channels."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from tongpin.counselling.api.dependencies import Broadcaster, Limit, Offset, context, trace
from tongpin.counselling.context import CounsellingContext
from tongpin.counselling.handlers import broadcasts
from tongpin.counselling.schemas.broadcasts import BroadcastCreate, BroadcastPage, BroadcastRead
from tongpin.shared.problems import NotFound

router = APIRouter()


async def _broadcast_read(ctx: CounsellingContext, doc: dict[str, Any]) -> BroadcastRead:
    figures = await broadcasts.broadcast_figures(broadcasts=ctx.broadcasts, doc=doc)
    return BroadcastRead.model_validate({**doc, "broadcast_id": doc["_id"], "figures": figures})


@router.post("/broadcasts", status_code=201, response_model=BroadcastRead, tags=["broadcasts"])
async def compose_broadcast(body: BroadcastCreate, request: Request, principal: Broadcaster) -> BroadcastRead:
    """Compose an education task or notice for chosen channels."""
    ctx = context(request)
    doc = await broadcasts.compose_broadcast(broadcasts=ctx.broadcasts, title=body.title, text=body.text,
                                    channel_ids=list(dict.fromkeys(body.channel_ids)), by=principal,
                                    trace=trace(request))
    request.app.state.runtime.notify_outbox()
    return await _broadcast_read(ctx, doc)


@router.get("/broadcasts", response_model=BroadcastPage, tags=["broadcasts"])
async def list_broadcasts(request: Request, _: Broadcaster, limit: Limit = 50, offset: Offset = 0) -> BroadcastPage:
    """Broadcasts, newest first, with their delivery figures."""
    ctx = context(request)
    docs, total = await ctx.broadcasts.page(limit=limit, offset=offset)
    return BroadcastPage(items=[await _broadcast_read(ctx, d) for d in docs], total=total, limit=limit,
                         offset=offset)


@router.get("/broadcasts/{broadcast_id}", response_model=BroadcastRead, tags=["broadcasts"])
async def get_broadcast(broadcast_id: str, request: Request, _: Broadcaster) -> BroadcastRead:
    """One broadcast with its delivery figures per channel."""
    ctx = context(request)
    doc = await ctx.broadcasts.get(broadcast_id)
    if doc is None:
        raise NotFound("broadcast", broadcast_id)
    return await _broadcast_read(ctx, doc)

