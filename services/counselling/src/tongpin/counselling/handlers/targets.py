"""Time targets: flagging overdue cases and decisions, talk reminders, how often targets were met."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tongpin.counselling.domain.sla import Targets, is_overdue, summarise
from tongpin.counselling.handlers.mutation import keep_books
from tongpin.counselling.handlers.notifications import coordinators, notify
from tongpin.counselling.repository.ports import CaseStore, NotificationStore, StaffStore
from tongpin.shared.logging import get_logger

log = get_logger(__name__)


def overdue_query(now: datetime) -> dict[str, Any]:
    """Live cases whose first response or resolution has fallen due undone."""
    return {"state": {"$ne": "resolved"},
            "$or": [{"first_response_at": None, "first_response_due": {"$lt": now}},
                    {"resolution_due": {"$lt": now}}]}


async def flag_overdue(
    *, repo: CaseStore, staff: StaffStore, feed: NotificationStore, now: datetime, webhook: bool
) -> list[str]:
    """Flag cases past a target and decisions past their deadline, telling who must act; returns flagged ids."""
    flagged: list[str] = []
    for doc in await repo.find_cases({**overdue_query(now), "overdue": {"$ne": True}}):
        kind = "first_response" if doc.get("first_response_at") is None and doc["first_response_due"] < now \
            else "resolution"
        await repo.flag(doc["_id"], {"overdue": True, "overdue_kind": kind, "overdue_flagged_at": now})
        told = [doc["assignee_id"]] if doc.get("assignee_id") else await coordinators(staff=staff)
        for staff_id in told:
            await notify(feed=feed, staff_id=staff_id, kind="overdue", case_id=doc["_id"],
                         notification_id=f"overdue:{doc['_id']}:{kind}:{staff_id}:{doc.get('reopen_count', 0)}",
                         webhook=webhook, target=kind, at=now)
        flagged.append(doc["_id"])
    for doc in await repo.find_cases({"state": "decided", "decision_due_by": {"$lt": now}}, {"_id": 1}):
        kept = await keep_books(repo=repo, case_id=doc["_id"],
                                note=lambda case: case.flag_overdue_decisions(now=now))
        if kept is None:
            continue
        case, overdue = kept
        for escalation in overdue:
            assert escalation.decision is not None
            decision = escalation.decision
            actors = {case.assignee_id, decision.actor_id if decision.actor_kind == "staff" else None}
            for staff_id in sorted(str(s) for s in actors - {None}):
                await notify(feed=feed, staff_id=staff_id, kind="decision_overdue", case_id=case.case_id,
                             notification_id=f"decision_overdue:{escalation.escalation_id}:{staff_id}",
                             webhook=webhook, escalation_id=escalation.escalation_id, at=now)
            flagged.append(escalation.escalation_id)
    if flagged:
        log.info("sla.flagged", count=len(flagged))
    return flagged


async def send_talk_reminders(
    *, repo: CaseStore, feed: NotificationStore, now: datetime, lead: timedelta, webhook: bool
) -> list[str]:
    """Remind the staff of each talk coming up within the lead time (once per booked time)."""
    reminded: list[str] = []
    query = {"pending_talk_id": {"$ne": None}, "pending_talk_for": {"$lte": now + lead, "$gte": now}}
    for doc in await repo.find_cases(query, {"_id": 1}):
        kept = await keep_books(repo=repo, case_id=doc["_id"], note=lambda case: case.remind_of_talk())
        if kept is None:
            continue
        case, talk = kept
        when = talk.scheduled_for.isoformat()
        for staff_id in sorted({*talk.staff_ids, *([case.assignee_id] if case.assignee_id else [])}):
            await notify(feed=feed, staff_id=staff_id, kind="talk_reminder", case_id=case.case_id,
                         notification_id=f"talk_reminder:{talk.talk_id}:{when}:{staff_id}",
                         webhook=webhook, talk_id=talk.talk_id, scheduled_for=when, at=now)
        reminded.append(talk.talk_id)
    return reminded


@dataclass(frozen=True)
class _SlaCase:
    severity: Any
    opened_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None


async def sla_figures(*, repo: CaseStore, targets: Targets, now: datetime) -> dict[str, Any]:
    """How often the time targets were met, overall and per severity."""
    docs = await repo.find_cases({}, {"severity": 1, "opened_at": 1, "first_response_at": 1, "resolved_at": 1})
    summary = summarise(cases=[_SlaCase(d["severity"], d["opened_at"], d.get("first_response_at"),
                                        d.get("resolved_at")) for d in docs], now=now, targets=targets)

    def tally(t: Any) -> dict[str, Any]:
        return {"cases": t.cases, "overdue": t.overdue,
                **{name: {"met": x.met, "missed": x.missed, "pending": x.pending, "rate": x.rate}
                   for name, x in (("first_response", t.first_response), ("resolution", t.resolution))}}

    return {
        "as_of": now, "overall": tally(summary.overall),
        "by_severity": {severity: tally(t) for severity, t in summary.by_severity.items()},
        "targets": {s: {"first_response_seconds": t.first_response.total_seconds(),
                        "resolution_seconds": t.resolution.total_seconds()} for s, t in targets.items()},
    }


def overdue_now(doc: Mapping[str, Any], *, now: datetime, targets: Targets) -> bool:
    """Whether a stored case is past a target right now."""
    return is_overdue(case=_SlaCase(doc["severity"], doc["opened_at"], doc.get("first_response_at"),
                                    doc.get("resolved_at")), now=now, targets=targets)
