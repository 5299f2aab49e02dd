"""Counselling's HTTP API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from tongpin.counselling.repository import CaseRepository
from tongpin.shared.auth import Principal, Roles
from tongpin.shared.problems import NotFound

router = APIRouter(tags=["cases"])

CaseWorker = Annotated[Principal, Depends(Roles("political_worker", "psychologist", "centre_coordinator"))]


@router.get("/cases/{case_id}")
async def get_case(case_id: str, request: Request, _: CaseWorker) -> dict[str, Any]:
    doc = await CaseRepository(request.app.state.runtime.db).get_case(case_id)
    if doc is None:
        raise NotFound("case", case_id)
    return {"id": doc["_id"], **{k: v for k, v in doc.items() if not k.startswith(("_", "outbox"))}}
