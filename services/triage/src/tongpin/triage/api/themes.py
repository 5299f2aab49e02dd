"""Themes over HTTP: one category rising across many officers of a unit."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from tongpin.shared.events import Category, Id
from tongpin.triage.api.dependencies import Limit, Offset, Runtime, ThemeReader
from tongpin.triage.repository import ThemeRepository
from tongpin.triage.schemas.themes import ThemePage, ThemeRead

router = APIRouter(tags=["themes"])


@router.get("/themes", summary="Themes: one category rising across many officers of a unit")
async def list_themes(
    runtime: Runtime, _: ThemeReader, limit: Limit = 50, offset: Offset = 0,
    unit: Annotated[Id | None, Query()] = None, category: Category | None = None,
) -> ThemePage:
    filters: dict[str, Any] = {}
    if unit is not None:
        filters["unit"] = unit
    if category is not None:
        filters["category"] = category
    items, total = await ThemeRepository(runtime.db).page(filters=filters, limit=limit, offset=offset)
    return ThemePage(items=[ThemeRead(theme_id=d["_id"], **{k: v for k, v in d.items() if k != "_id"})
                            for d in items], total=total, limit=limit, offset=offset)
