"""Counselling's HTTP API: thin routes that validate, call one handler and map the result, one module per room."""

from __future__ import annotations

from fastapi import APIRouter

from tongpin.counselling.api import (
    access,
    broadcasts,
    cases,
    codes,
    escalations,
    notes,
    notifications,
    staff,
    talks,
    targets,
)

router = APIRouter()
# /cases/overdue (targets) comes before /cases/{case_id} (cases), which would otherwise take it.
for room in (staff, codes, targets, cases, talks, access, notes, escalations, broadcasts, notifications):
    router.include_router(room.router)
