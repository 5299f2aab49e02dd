"""What anyone may read: the bureau's found-and-resolved figures and one item's public status."""

from __future__ import annotations

from fastapi import APIRouter, Request

from tongpin.oversight.api.dependencies import Anyone, Items, Stats, as_period, threshold_of
from tongpin.oversight.handlers.statistics import found_and_resolved
from tongpin.oversight.schemas.items import ItemPublicRead
from tongpin.oversight.schemas.statistics import FoundResolvedRead
from tongpin.shared.problems import NotFound

router = APIRouter()


@router.get("/public/oversight", tags=["public"], summary="Oversight items found and resolved in a period",
            description="The bureau's figures only (never which units had an item), with the same suppression "
                        "as the auditors' report.")
async def public_found_resolved(request: Request, stats: Stats, _: Anyone, period: str) -> FoundResolvedRead:
    figures = await found_and_resolved(stats=stats, period=as_period(period), threshold=threshold_of(request))
    return FoundResolvedRead.model_validate(figures)


@router.get("/public/items/{item_id}", tags=["public"], summary="The public status and summary of one item")
async def public_item(item_id: str, items: Items, _: Anyone) -> ItemPublicRead:
    doc = await items.get(item_id)
    if doc is None:
        raise NotFound("oversight item", item_id)
    return ItemPublicRead.model_validate({**doc, "id": doc["_id"]})
