"""The ledger over HTTP: records in sequence order, their count, the hash-chain check and daily digests."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request

from tongpin.oversight.api.dependencies import AuditRead, Ledger, Limit, runtime_of
from tongpin.oversight.handlers.ledger import daily_digest
from tongpin.oversight.handlers.ledger import verify_ledger as verify_chain
from tongpin.oversight.schemas.ledger import ChainCheck, DigestRead, LedgerPage, LedgerRecordRead
from tongpin.shared.edge import MAX_SEQ
from tongpin.shared.problems import Invalid

router = APIRouter()


@router.get("/ledger", tags=["ledger"], summary="Ledger records in sequence order, page by page")
async def list_ledger(
    ledger: Ledger, _: AuditRead, limit: Limit = 50, after_seq: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
    type: Annotated[str | None, Query(max_length=128, pattern=r"^[a-z][a-z0-9_.]*$")] = None,
) -> LedgerPage:
    docs = await ledger.page(after_seq=after_seq, limit=limit, event_type=type)
    records = [LedgerRecordRead.model_validate(d) for d in docs]
    return LedgerPage(items=records, limit=limit, next_after_seq=records[-1].seq if len(records) == limit else None)


@router.get("/ledger/count", tags=["ledger"], summary="How many records the ledger holds")
async def ledger_count(ledger: Ledger, _: AuditRead) -> dict[str, int]:
    return {"entries": await ledger.count()}


@router.get("/ledger/verify", tags=["ledger"], summary="Verify the hash chain; names the first broken record")
async def verify_ledger(
    ledger: Ledger, _: AuditRead,
    anchor_seq: Annotated[int | None, Query(ge=1, le=MAX_SEQ, description="seq of a digest kept outside")] = None,
    anchor_hash: Annotated[str | None, Query(pattern=r"^[0-9a-f]{64}$")] = None,
) -> ChainCheck:
    if (anchor_seq is None) != (anchor_hash is None):
        missing = "anchor_hash" if anchor_hash is None else "anchor_seq"
        raise Invalid(missing, "give anchor_seq and anchor_hash together")
    anchors = {anchor_seq: anchor_hash} if anchor_seq is not None and anchor_hash is not None else None
    return ChainCheck.model_validate(await verify_chain(ledger=ledger, anchors=anchors))


@router.get("/ledger/digest", tags=["ledger"], summary="The chain head at the end of a day, to keep outside")
async def ledger_digest(request: Request, ledger: Ledger, _: AuditRead, date: date) -> DigestRead:
    zone = runtime_of(request).settings.bureau_zone
    return DigestRead.model_validate(await daily_digest(ledger=ledger, day=date, zone=zone))
