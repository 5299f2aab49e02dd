"""Response bodies of the assignment pool as triage sees it."""

from __future__ import annotations

from pydantic import BaseModel


class StaffRead(BaseModel):
    staff_id: str
    roles: list[str]
    active: bool
    on_leave: bool
    on_call: bool
    open_load: int
