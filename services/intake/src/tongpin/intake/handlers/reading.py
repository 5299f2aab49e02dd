"""The reading list's commands and event handlers: triage's decisions put messages on it, staff read them.

Entries live beside the messages they point at (intake owns the text); their events carry ids, codes and
times only, so oversight can count how many were read within target without ever seeing a word.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tongpin.intake.domain.reading import ReadingTargets, needs_reading, within_target
from tongpin.intake.handlers.common import aware
from tongpin.intake.repository import MessageRepository, ReadingRepository
from tongpin.shared.auth import Principal
from tongpin.shared.envelope import CloudEvent
from tongpin.shared.events import ConcernRead, ConcernTriaged, ReadingOverdue, make_event
from tongpin.shared.logging import get_logger
from tongpin.shared.messaging.outbox import with_outbox
from tongpin.shared.problems import Conflict, NotFound

log = get_logger(__name__)


async def record_decision(
    *, reading: ReadingRepository, messages: MessageRepository, targets: ReadingTargets, decision: ConcernTriaged,
) -> None:
    """Put a judged message on the reading list, or take its target from a newer decision (an override)."""
    triaged_at = aware(decision.triaged_at)
    wanted = needs_reading(channel_kind=decision.channel_kind, dismissed=decision.dismissed)
    existing = await reading.get(decision.concern_id)
    if existing is None:
        if not wanted:
            return
        message = await messages.get(decision.concern_id)
        received = aware(message["received_at"]) if message and message.get("received_at") else \
            aware(decision.raised_at or decision.triaged_at)
        due = targets.due(received_at=received, severity=decision.severity, crisis=decision.crisis)
        target = targets.target_name(severity=decision.severity, crisis=decision.crisis)
        document: dict[str, Any] = {
            "_id": decision.concern_id, "channel_id": decision.channel_id, "channel_kind": decision.channel_kind,
            "unit": decision.unit, "category": decision.category, "severity": decision.severity,
            "crisis": decision.crisis, "target": target, "received_at": received, "due_at": due,
            "status": "unread", "reads": [], "first_read_at": None, "within_target": None,
            "overdue_notified": False, "decided_at": triaged_at, "version": 1,
        }
        if await reading.insert(with_outbox(document, [])):
            log.info("reading.listed", concern_id=decision.concern_id, target=document["target"])
            return
        existing = await reading.get(decision.concern_id)
        if existing is None:
            return
    if aware(existing["decided_at"]) >= triaged_at:
        return  # an older decision arriving late changes nothing
    changes: dict[str, Any] = {"category": decision.category, "severity": decision.severity,
                               "crisis": decision.crisis, "decided_at": triaged_at}
    if not wanted:
        changes["status"] = "withdrawn"  # overridden to chatter: off the list, its record kept
    elif existing["status"] in ("unread", "withdrawn"):
        # Still unread: the target follows the new judgment (raised to crisis: due within minutes).
        changes["status"] = "unread"
        changes["target"] = targets.target_name(severity=decision.severity, crisis=decision.crisis)
        changes["due_at"] = targets.due(received_at=aware(existing["received_at"]), severity=decision.severity,
                                        crisis=decision.crisis)
        if changes["due_at"] != existing["due_at"]:
            changes["overdue_notified"] = False
    await reading.update(decision.concern_id, match={"version": existing["version"]},
                         update={"$set": changes, "$inc": {"version": 1}})


async def mark_read(
    *, reading: ReadingRepository, concern_id: str, principal: Principal, now: datetime,
    correlation_id: str | None = None, traceparent: str | None = None,
) -> dict[str, Any]:
    """Record that a member of staff read a message; the first read settles whether it was within target."""
    for _ in range(5):
        entry = await reading.get(concern_id)
        if entry is None or entry["status"] == "withdrawn":
            raise NotFound("reading list entry", concern_id)
        if any(r["staff_id"] == principal.subject for r in entry["reads"]):
            return entry  # reading twice is still one read
        read = {"staff_id": principal.subject, "name": principal.name, "at": now}
        update: dict[str, Any] = {"$push": {"reads": read}, "$set": {"status": "read"}, "$inc": {"version": 1}}
        events: list[CloudEvent] = []
        if entry["first_read_at"] is None:
            on_time = within_target(read_at=now, due_at=aware(entry["due_at"]))
            update["$set"] |= {"first_read_at": now, "first_read_by": principal.subject, "within_target": on_time}
            events.append(make_event(ConcernRead(
                concern_id=concern_id, channel_kind=entry["channel_kind"], unit=entry.get("unit"),
                severity=entry["severity"], crisis=entry["crisis"], target=entry["target"],
                received_at=entry["received_at"], due_at=entry["due_at"], read_at=now, within_target=on_time,
            ), subject=concern_id, correlationid=correlation_id, traceparent=traceparent))
        updated = await reading.update(concern_id, match={"version": entry["version"]}, update=update,
                                       events=events)
        if updated is not None:
            log.info("reading.read", concern_id=concern_id, by=principal.subject, first=bool(events))
            return updated
    raise Conflict("the reading list entry keeps changing; try again")


async def flag_overdue(*, reading: ReadingRepository, now: datetime, limit: int = 200) -> int:
    """Announce each unread entry past its target once; the on-call staff are told through counselling."""
    flagged = 0
    for entry in await reading.overdue(now=now, limit=limit):
        event = make_event(ReadingOverdue(
            concern_id=entry["_id"], channel_kind=entry["channel_kind"], unit=entry.get("unit"),
            severity=entry["severity"], crisis=entry["crisis"], target=entry["target"],
            received_at=entry["received_at"], due_at=entry["due_at"], overdue_at=now,
        ), subject=entry["_id"])
        # Conditional on the flag still being unset: two processes scanning at once announce it once.
        updated = await reading.update(entry["_id"], match={"overdue_notified": False, "status": "unread"},
                                       update={"$set": {"overdue_notified": True, "overdue_at": now}},
                                       events=[event])
        if updated is not None:
            flagged += 1
            log.info("reading.overdue", concern_id=entry["_id"], target=entry["target"])
    return flagged
