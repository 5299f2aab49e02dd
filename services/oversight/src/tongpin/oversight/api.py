"""Oversight's HTTP API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from tongpin.oversight.repository import LedgerRepository
from tongpin.shared.auth import Principal, Roles

router = APIRouter(tags=["ledger"])

Auditor = Annotated[Principal, Depends(Roles("auditor", "admin"))]


@router.get("/ledger/count")
async def ledger_count(request: Request, _: Auditor) -> dict[str, int]:
    return {"entries": await LedgerRepository(request.app.state.runtime.db).count()}
