"""Counselling's event handlers; dependencies arrive as parameters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tongpin.counselling.repository import CaseRepository
from tongpin.shared.envelope import CloudEvent, child_traceparent
from tongpin.shared.events import CaseOpened, ConcernRaised, ConcernTriaged, make_event


async def record_concern_text(*, repo: CaseRepository, event: CloudEvent, concern: ConcernRaised) -> None:
    """Keep a concern's text until its decision arrives (they may come in either order)."""
    doc = await repo.merge_concern(concern.concern_id, {"text": concern.text, "raised": concern.model_dump()})
    await _open_case_when_complete(repo=repo, event=event, doc=doc)


async def record_decision(*, repo: CaseRepository, event: CloudEvent, decision: ConcernTriaged) -> None:
    doc = await repo.merge_concern(decision.concern_id, {"decision": decision.model_dump()})
    await _open_case_when_complete(repo=repo, event=event, doc=doc)


async def _open_case_when_complete(*, repo: CaseRepository, event: CloudEvent, doc: dict[str, Any]) -> None:
    decision = doc.get("decision")
    if decision is None or "text" not in doc:
        return
    if decision["route"] == "dismiss":
        # Text is kept only for concerns that became cases.
        await repo.forget_text(doc["_id"])
        return
    now = datetime.now(UTC)
    case_id = f"case-{doc['_id']}"
    opened = CaseOpened(
        case_id=case_id, concern_id=doc["_id"], channel_kind=decision["channel_kind"], unit=decision.get("unit"),
        category=decision["category"], severity=decision["severity"], crisis=decision.get("crisis", False),
        opened_at=now,
    )
    await repo.insert_case(
        {"_id": case_id, "state": "open", "concern_ids": [doc["_id"]], "opened_at": now, "version": 1},
        [make_event(opened, subject=case_id, correlationid=event.correlationid,
                    traceparent=child_traceparent(event.traceparent))],
    )
