"""The caller's notification feed."""

from __future__ import annotations

from fastapi import APIRouter, Request

from tongpin.counselling.api.dependencies import AnyStaff, Limit, Offset, context
from tongpin.counselling.schemas.notifications import NotificationPage, NotificationRead
from tongpin.shared import clock
from tongpin.shared.problems import NotFound

router = APIRouter()


@router.get("/notifications", response_model=NotificationPage, tags=["notifications"])
async def notifications(
    request: Request, principal: AnyStaff, unread: bool = False, limit: Limit = 50, offset: Offset = 0
) -> NotificationPage:
    """The caller's feed: new assignments, crises, overdue cases, talk reminders, decisions."""
    feed = context(request).feed
    docs, total = await feed.for_staff(principal.subject, unread_only=unread, limit=limit, offset=offset)
    _, unread_total = await feed.for_staff(principal.subject, unread_only=True, limit=1, offset=0)
    return NotificationPage(items=[NotificationRead.model_validate({**d, "notification_id": d["_id"]}) for d in docs],
                            total=total, unread=unread_total, limit=limit, offset=offset)


@router.post("/notifications/{notification_id}/read", response_model=NotificationRead, tags=["notifications"])
async def mark_read(notification_id: str, request: Request, principal: AnyStaff) -> NotificationRead:
    """Mark one of the caller's notifications read."""
    doc = await context(request).feed.mark_read(notification_id, staff_id=principal.subject, at=clock.now())
    if doc is None:
        raise NotFound("notification", notification_id)
    return NotificationRead.model_validate({**doc, "notification_id": doc["_id"]})

