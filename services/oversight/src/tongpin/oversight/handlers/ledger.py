"""The ledger: verifying the hash chain, the chain head at the end of each day, and the loop that keeps those."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from tongpin.oversight.domain import ledger as ledger_domain
from tongpin.oversight.domain.periods import SHANGHAI, local_date, local_midnight_utc
from tongpin.oversight.repository import LedgerRepository
from tongpin.shared.logging import get_logger
from tongpin.shared.problems import Invalid

log = get_logger(__name__)


async def verify_ledger(*, ledger: LedgerRepository, anchors: Mapping[int, str] | None = None) -> dict[str, Any]:
    """Walk the whole chain; name the first broken record and why."""
    start, prev, count = 1, ledger_domain.GENESIS, 0
    records: list[dict[str, Any]] = []
    walker = ledger.walk()
    while True:
        doc = await anext(walker, None)
        if doc is not None:
            records.append(doc)
            if len(records) < 1000:
                continue
        report = _verify_batch(records, start=start, prev=prev, anchors=anchors)
        count += report.count
        if not report.ok:
            return _chain_view(report, count=count)
        start, prev, records = start + report.count, report.head_hash, []
        if doc is None:
            break
    beyond = [seq for seq in (anchors or {}) if seq >= start]
    if beyond:
        missing = ledger_domain.ChainReport(ok=False, count=count, first_broken_seq=min(beyond),
                                            reason=ledger_domain.SEQUENCE_GAP, head_hash=prev)
        return _chain_view(missing, count=count)
    return _chain_view(ledger_domain.ChainReport(ok=True, count=count, head_hash=prev), count=count)


def _verify_batch(
    records: list[dict[str, Any]], *, start: int, prev: str, anchors: Mapping[int, str] | None
) -> ledger_domain.ChainReport:
    # The copies kept beside the hashed entry (for queries) must agree with it, or count as an edit.
    for index, doc in enumerate(records):
        raw = doc.get("entry")
        entry: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        if (doc.get("_id"), doc.get("type"), doc.get("subject")) != (
            entry.get("event_id"), entry.get("type"), entry.get("subject")
        ):
            report = ledger_domain.verify_chain(records[:index], start_seq=start, prev_hash=prev, anchors=anchors)
            if not report.ok:
                return report
            return ledger_domain.ChainReport(ok=False, count=report.count, first_broken_seq=start + report.count,
                                             reason=ledger_domain.HASH_MISMATCH, head_hash=report.head_hash)
    return ledger_domain.verify_chain(records, start_seq=start, prev_hash=prev, anchors=anchors)


def _chain_view(report: ledger_domain.ChainReport, *, count: int) -> dict[str, Any]:
    return {"ok": report.ok, "verified": count, "first_broken_seq": report.first_broken_seq,
            "reason": report.reason, "head_hash": report.head_hash}


async def daily_digest(*, ledger: LedgerRepository, day: date, zone: tzinfo = SHANGHAI) -> dict[str, Any]:
    """The chain head at the end of a local date (by when records were appended, on the system clock)."""
    today = local_date(datetime.now(UTC), zone)
    if day > today:
        raise Invalid("date", "the date is in the future")
    stored = await ledger.digest(day.isoformat())
    if stored is not None:
        return {**_digest_view(stored), "final": True}
    head = await ledger.head_before(local_midnight_utc(day + timedelta(days=1), zone))
    previous = await ledger.digest_before(day.isoformat())
    digest = ledger_domain.daily_digest(head, date=day, previous=previous)
    if day < today:
        return {**_digest_view(await ledger.save_digest(digest)), "final": True}
    return {**digest, "final": False}


def _digest_view(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {k: doc[k] for k in ("date", "seq", "hash", "count", "added")}


async def keep_daily_digests(*, ledger: LedgerRepository, every_seconds: float = 3600, zone: tzinfo = SHANGHAI) -> None:
    """Background loop: store yesterday's digest so it is fixed before anyone asks."""
    while True:
        try:
            await daily_digest(ledger=ledger, day=local_date(datetime.now(UTC), zone) - timedelta(days=1), zone=zone)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("oversight.digest_failed", error=repr(exc))
        await asyncio.sleep(every_seconds)
