"""The assignment pool: kept in step with counselling's staff directory, read when a concern needs someone."""

from __future__ import annotations

from tongpin.shared.events import StaffUpdated
from tongpin.triage.domain.routing import StaffMember
from tongpin.triage.handlers.common import utc
from tongpin.triage.repository import StaffRepository


async def record_staff(*, staff: StaffRepository, data: StaffUpdated) -> None:
    """Keep the assignment pool in step with counselling's staff directory."""
    await staff.upsert_if_newer(data.staff_id, {
        "roles": list(data.roles), "active": data.active, "on_leave": data.on_leave, "on_call": data.on_call,
        "skills": list(data.skills), "updated_at": utc(data.updated_at),
    })


async def staff_pool(staff: StaffRepository, role: str | None) -> tuple[list[StaffMember], dict[str, int]]:
    """Who may be assigned in the role, and the open load of each."""
    if role is None:
        return [], {}
    docs = await staff.with_role(role)
    pool = [StaffMember(staff_id=d["_id"], roles=frozenset(d.get("roles", ())), active=d.get("active", True),
                        on_leave=d.get("on_leave", False), on_call=d.get("on_call", False)) for d in docs]
    return pool, await staff.open_load([m.staff_id for m in pool])
