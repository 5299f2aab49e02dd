"""Response bodies of themes: one category rising across many officers of a unit."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from tongpin.shared.events import Category


class ThemeRead(BaseModel):
    theme_id: str
    unit: str
    category: Category
    officer_count: int
    concern_count: int
    first_at: datetime
    last_at: datetime


class ThemePage(BaseModel):
    items: list[ThemeRead]
    total: int
    limit: int
    offset: int
