"""Deliveries over HTTP: each reply and broadcast sent back out, with every attempt's outcome."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from tongpin.intake.api.dependencies import Deliveries, DeliveryReader, Limit, Offset
from tongpin.intake.schemas.delivery import DeliveryPage, DeliveryRead
from tongpin.shared.events import Id

router = APIRouter()


@router.get("/deliveries", response_model=DeliveryPage, tags=["delivery"], summary="Deliveries and their outcomes")
async def list_deliveries(deliveries: Deliveries, _: DeliveryReader, limit: Limit = 50, offset: Offset = 0,
                          status: Literal["pending", "delivered", "failed"] | None = None,
                          channel_id: Id | None = None) -> DeliveryPage:
    """Every reply and broadcast delivery with each attempt's outcome (no text)."""
    query = {k: v for k, v in {"status": status, "channel_id": channel_id}.items() if v is not None}
    docs, total = await deliveries.page(query=query, limit=limit, offset=offset)
    return DeliveryPage(items=[DeliveryRead.model_validate({**d, "id": d["_id"]}) for d in docs], total=total,
                        limit=limit, offset=offset)
