"""The reading list over HTTP: what staff must read, with the text, who read it and when."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request

from tongpin.intake.handlers import reading
from tongpin.intake.handlers.common import aware, business_now
from tongpin.intake.repository import MessageRepository, ReadingRepository
from tongpin.intake.schemas.reading import ReadingItemRead, ReadingPage, ReadRead
from tongpin.shared.auth import Forbidden, Principal, Roles
from tongpin.shared.events import Id
from tongpin.shared.problems import Invalid

router = APIRouter(prefix="/reading", tags=["reading list"])

# The roles that may read what people wrote (as for /messages).
Reader = Annotated[Principal, Depends(Roles("political_worker", "psychologist", "centre_coordinator"))]
Limit = Annotated[int, Query(ge=1, le=200, description="page size, at most 200")]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
ConcernId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$")]


def _runtime(request: Request) -> Any:
    return request.app.state.runtime


def _item(entry: dict[str, Any], message: dict[str, Any] | None, *, now: datetime) -> ReadingItemRead:
    due = aware(entry["due_at"])
    return ReadingItemRead(
        concern_id=entry["_id"], channel_id=entry["channel_id"], channel_kind=entry["channel_kind"],
        unit=entry.get("unit"), category=entry["category"], severity=entry["severity"], crisis=entry["crisis"],
        target=entry["target"], text=(message or {}).get("text"), sent_at=(message or {}).get("sent_at"),
        received_at=entry["received_at"], due_at=due, status=entry["status"],
        overdue=entry["status"] == "unread" and due < now, reads=[ReadRead(**r) for r in entry["reads"]],
        first_read_at=entry.get("first_read_at"), within_target=entry.get("within_target"),
    )


def _own_unit(principal: Principal) -> str | None:
    """The unit a member of staff reads for: their token's unit, unless they coordinate the whole bureau."""
    unit = principal.claims.get("unit")
    if "centre_coordinator" in principal.roles or not isinstance(unit, str) or not unit:
        return None
    return unit


def _scope(principal: Principal, unit: str | None) -> dict[str, Any]:
    """Staff of a unit read their unit's list (and messages of no unit); coordinators and bureau-level staff
    (no unit in the directory) read every unit's. The ``unit`` filter narrows it further."""
    own = _own_unit(principal)
    if own is None:
        return {"unit": unit} if unit is not None else {}
    if unit is not None and unit != own:
        raise Invalid("unit", "outside the unit you work for")
    return {"unit": unit} if unit is not None else {"unit": {"$in": [own, None]}}


@router.get("", summary="Messages to read: crises first, then by reading target; with text, readers and times")
async def list_reading(
    request: Request, principal: Reader, limit: Limit = 50, offset: Offset = 0,
    status: Literal["unread", "overdue", "read", "all"] = "unread", unit: Annotated[Id | None, Query()] = None,
    channel_kind: Literal["officers", "families"] | None = None,
) -> ReadingPage:
    db = _runtime(request).db
    entries, messages = ReadingRepository(db), MessageRepository(db)
    now = business_now()
    base: dict[str, Any] = {"status": {"$in": ["unread", "read"]}, **_scope(principal, unit)}
    if channel_kind is not None:
        base["channel_kind"] = channel_kind
    query = dict(base)
    if status == "unread":
        query["status"] = "unread"
    elif status == "overdue":
        query |= {"status": "unread", "due_at": {"$lt": now}}
    elif status == "read":
        query["status"] = "read"
    docs, total = await entries.page(query=query, limit=limit, offset=offset)
    texts = {doc["_id"]: doc for doc in await messages.many([d["_id"] for d in docs])}
    counts = {
        "unread": await entries.count({**base, "status": "unread"}),
        "overdue": await entries.count({**base, "status": "unread", "due_at": {"$lt": now}}),
        "read": await entries.count({**base, "status": "read"}),
    }
    return ReadingPage(items=[_item(d, texts.get(d["_id"]), now=now) for d in docs], total=total, limit=limit,
                       offset=offset, counts=counts)


@router.post("/{concern_id}/reads", summary="Record that you read this message (reading twice is one read)")
async def mark_read(concern_id: ConcernId, request: Request, principal: Reader) -> ReadingItemRead:
    runtime = _runtime(request)
    db = runtime.db
    entry = await ReadingRepository(db).get(concern_id)
    own = _own_unit(principal)
    if entry is not None and own is not None and entry.get("unit") not in (own, None):
        raise Forbidden("this message belongs to a unit you do not work for")
    updated = await reading.mark_read(
        reading=ReadingRepository(db), concern_id=concern_id, principal=principal, now=business_now(),
        correlation_id=getattr(request.state, "correlation_id", None),
        traceparent=getattr(request.state, "traceparent", None),
    )
    runtime.notify_outbox()
    message = await MessageRepository(db).get(concern_id)
    return _item(updated, message, now=business_now())
