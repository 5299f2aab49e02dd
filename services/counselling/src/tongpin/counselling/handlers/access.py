"""Need-to-know on cases, and reading one through the glass with a stated reason."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tongpin.counselling.domain.access import case_access
from tongpin.counselling.handlers.common import business_now, new_id
from tongpin.counselling.handlers.notifications import coordinators, notify
from tongpin.counselling.repository.ports import (
    BreakGlassStore,
    CaseStore,
    NoteStore,
    NotificationStore,
    StaffStore,
)
from tongpin.shared.auth import Principal
from tongpin.shared.logging import get_logger
from tongpin.shared.problems import NotFound, Problem

log = get_logger(__name__)


class NeedToKnow(Problem):
    """403 for a case the caller may not open; names the way to read it with a stated reason."""

    def __init__(self, case_id: str) -> None:
        super().__init__(403, "this case is open to its assignee, its team in its unit and the coordinator; "
                              "to read it, break the glass with a stated reason",
                         type_="https://tongpin.dev/problems/need-to-know", case_id=case_id,
                         break_glass=f"/cases/{case_id}/break-glass")


async def case_for(
    *, repo: CaseStore, staff: StaffStore, notes: NoteStore, case_id: str, by: Principal
) -> dict[str, Any]:
    """The case, if the caller may open it (coordinator, assignee, or its team in its unit); 404 or 403."""
    doc = await repo.get_case(case_id)
    if doc is None:
        raise NotFound("case", case_id)
    unit = await staff_unit(staff=staff, by=by)
    if case_access(doc, staff_id=by.subject, roles=by.roles, unit=unit) is None:
        await notes.record_denial({"_id": new_id("denial"), "what": "case", "case_id": case_id,
                                   "subject": by.subject, "roles": sorted(by.roles), "at": business_now()})
        log.warning("case.access_refused", case_id=case_id, subject=by.subject, roles=sorted(by.roles))
        raise NeedToKnow(case_id)
    return doc


async def staff_unit(*, staff: StaffStore, by: Principal) -> str | None:
    """The caller's unit in the staff directory (None for staff without one, or not in the directory)."""
    member = await staff.get(by.subject)
    return member.get("unit") if member else None


async def break_glass(
    *, repo: CaseStore, glass: BreakGlassStore, staff: StaffStore, feed: NotificationStore,
    case_id: str, reason: str, by: Principal, webhook: bool,
) -> dict[str, Any]:
    """Read a case one may not open: the reason is recorded, the coordinators are told (without it)."""
    doc = await repo.get_case(case_id)
    if doc is None:
        raise NotFound("case", case_id)
    at = business_now()
    read_id = new_id("glass")
    await glass.insert({"_id": read_id, "case_id": case_id, "staff_id": by.subject, "roles": sorted(by.roles),
                        "reason": reason, "at": at, "month": at.strftime("%Y-%m")})
    log.warning("case.break_glass", case_id=case_id, staff_id=by.subject, read_id=read_id)
    for coordinator in await coordinators(staff=staff):
        await notify(feed=feed, staff_id=coordinator, kind="break_glass", case_id=case_id,
                     notification_id=f"break_glass:{read_id}:{coordinator}", webhook=webhook,
                     reader_id=by.subject, read_id=read_id, at=at)
    return doc


async def break_glass_summary(*, glass: BreakGlassStore) -> dict[str, Any]:
    """How many cases were read through the glass, per month (counts only)."""
    months = Counter(await glass.months())
    return {"total": sum(months.values()),
            "by_month": [{"month": month, "reads": count} for month, count in sorted(months.items())]}
