"""The audit trail over HTTP: events oversight refused, and who queried oversight, what and when."""

from __future__ import annotations

from fastapi import APIRouter, Request

from tongpin.oversight.api.dependencies import AuditRead, Limit, Offset, runtime_of
from tongpin.oversight.repository import AuditQueryRepository, RejectedRepository
from tongpin.oversight.schemas.audit import AuditQueryPage, AuditQueryRead, RejectedPage, RejectedRead

router = APIRouter()


@router.get("/rejected", tags=["audit"], summary="Events refused, with the reason")
async def list_rejected(request: Request, _: AuditRead, limit: Limit = 50, offset: Offset = 0) -> RejectedPage:
    docs = await RejectedRepository(runtime_of(request).db).page(offset=offset, limit=limit)
    return RejectedPage(items=[RejectedRead.model_validate({**d, "event_id": d["_id"]}) for d in docs],
                        limit=limit, offset=offset)


@router.get("/audit/queries", tags=["audit"], summary="Who queried oversight, what and when")
async def list_audit_queries(request: Request, _: AuditRead, limit: Limit = 50, offset: Offset = 0) -> AuditQueryPage:
    docs = await AuditQueryRepository(runtime_of(request).db).page(offset=offset, limit=limit)
    return AuditQueryPage(items=[AuditQueryRead.model_validate(d) for d in docs], limit=limit, offset=offset)
