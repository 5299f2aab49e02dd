"""Response bodies of the ledger: records, the chain check and daily digests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class LedgerRecordRead(BaseModel):
    seq: int
    prev_hash: str
    hash: str
    entry: dict[str, Any]
    appended_at: datetime


class LedgerPage(BaseModel):
    items: list[LedgerRecordRead]
    limit: int
    next_after_seq: int | None


class ChainCheck(BaseModel):
    ok: bool
    verified: int
    first_broken_seq: int | None
    reason: str | None
    head_hash: str


class DigestRead(BaseModel):
    date: str
    seq: int
    hash: str
    count: int
    added: int
    final: bool
