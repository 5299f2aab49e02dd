"""The staff pool over HTTP: who triage may assign to, with each one's open load."""

from __future__ import annotations

from fastapi import APIRouter

from tongpin.triage.api.dependencies import Exporter, Limit, Offset, Runtime
from tongpin.triage.repository import StaffRepository
from tongpin.triage.schemas.staff import StaffRead

router = APIRouter(tags=["staff"])


@router.get("/staff", summary="The assignment pool as triage sees it, with open load")
async def list_staff(runtime: Runtime, _: Exporter, limit: Limit = 50, offset: Offset = 0) -> list[StaffRead]:
    repo = StaffRepository(runtime.db)
    docs = await repo.page(limit=limit, offset=offset)
    load = await repo.open_load([d["_id"] for d in docs])
    return [StaffRead(staff_id=d["_id"], roles=d.get("roles", []), active=d.get("active", True),
                      on_leave=d.get("on_leave", False), on_call=d.get("on_call", False),
                      open_load=load.get(d["_id"], 0)) for d in docs]
