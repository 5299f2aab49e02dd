"""Each staff member's feed (ids and codes only) and its delivery to the outbound webhook."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

import httpx

from tongpin.counselling.domain import case_events as domain
from tongpin.counselling.handlers.common import business_now
from tongpin.counselling.handlers.mutation import Mutation
from tongpin.counselling.repository.ports import NotificationStore, StaffStore
from tongpin.shared import events as ev
from tongpin.shared.logging import get_logger

log = get_logger(__name__)


async def notify(
    *, feed: NotificationStore, staff_id: str, kind: str, notification_id: str, case_id: str | None = None,
    webhook: bool, at: datetime | None = None, **details: Any,
) -> bool:
    """Put one item in a staff member's feed (ids and codes only); the same id twice adds it once."""
    document = {
        "_id": notification_id, "staff_id": staff_id, "kind": kind, "case_id": case_id,
        "details": details, "created_at": at or business_now(), "read_at": None, "webhook_pending": webhook,
    }
    added = await feed.add(document)
    if added:
        log.info("notification.added", staff_id=staff_id, kind=kind, case_id=case_id)
    return added


async def notify_assignments(
    *, feed: NotificationStore, mutation: Mutation, webhook: bool, kind: str = "assignment"
) -> None:
    for item in mutation.recorded:
        if isinstance(item, domain.CaseAssigned):
            await notify(feed=feed, staff_id=item.assignee_id, kind=kind, case_id=mutation.case.case_id,
                         notification_id=f"{kind}:{mutation.case.case_id}:{item.assignee_id}:{mutation.case.version}",
                         webhook=webhook, severity=mutation.case.severity)


async def notify_reading_overdue(
    *, staff: StaffStore, feed: NotificationStore, overdue: ev.ReadingOverdue, webhook: bool,
) -> None:
    """A message passed its reading target unread: every on-call member of staff hears of it (the
    coordinators, when nobody is on call). Ids and codes only; the text stays in intake's reading list."""
    on_call = [doc["_id"] for doc in await staff.find({"on_call": True, "active": True, "on_leave": False})]
    for staff_id in on_call or await coordinators(staff=staff):
        await notify(feed=feed, staff_id=staff_id, kind="reading_overdue", case_id=None,
                     notification_id=f"reading_overdue:{overdue.concern_id}:{staff_id}:{overdue.due_at.isoformat()}",
                     webhook=webhook, concern_id=overdue.concern_id, severity=overdue.severity,
                     crisis=overdue.crisis, target=overdue.target, unit=overdue.unit,
                     due_at=overdue.due_at.isoformat())


async def coordinators(*, staff: StaffStore) -> list[str]:
    """Active centre coordinators, who hear about what has nobody to hear it."""
    return [doc["_id"] for doc in await staff.find({"roles": "centre_coordinator", "active": True})]


def webhook_signature(*, secret: bytes, body: bytes) -> str:
    """HMAC-SHA256 of the body, as the X-Tongpin-Signature header carries it."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


async def deliver_webhooks(
    *, feed: NotificationStore, http: httpx.AsyncClient, url: str, secret: bytes
) -> int:
    """Post pending notifications (ids and codes only) to the bureau's messaging app, signed."""
    sent = 0
    for doc in await feed.webhook_pending():
        payload = {"id": doc["_id"], "staff_id": doc["staff_id"], "kind": doc["kind"], "case_id": doc.get("case_id"),
                   "details": doc.get("details", {}), "created_at": doc["created_at"].isoformat()}
        body = json.dumps(payload, ensure_ascii=False, default=str).encode()
        try:
            response = await http.post(url, content=body, headers={
                "content-type": "application/json", "x-tongpin-signature": webhook_signature(secret=secret, body=body)})
            response.raise_for_status()
        except httpx.HTTPError as exc:
            log.warning("webhook.failed", notification_id=doc["_id"], error=type(exc).__name__)
            break
        await feed.webhook_done(doc["_id"], at=business_now())
        sent += 1
    return sent
