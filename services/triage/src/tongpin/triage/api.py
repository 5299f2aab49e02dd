"""Triage's HTTP API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from tongpin.shared.auth import Principal, Roles
from tongpin.shared.problems import NotFound
from tongpin.triage.repository import DecisionRepository

router = APIRouter(tags=["decisions"])

Staff = Annotated[Principal, Depends(Roles("political_worker", "psychologist", "centre_coordinator", "admin"))]


@router.get("/decisions/{concern_id}")
async def get_decision(concern_id: str, request: Request, _: Staff) -> dict[str, Any]:
    doc = await DecisionRepository(request.app.state.runtime.db).get(concern_id)
    if doc is None:
        raise NotFound("decision", concern_id)
    return {"concern_id": doc["_id"], **{k: v for k, v in doc.items() if not k.startswith(("_", "outbox"))}}
