"""Staff role names (the event catalogue's `StaffRole`) and which roles may do what."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

from tongpin.shared.events import StaffRole

STAFF_ROLES: Final[tuple[StaffRole, ...]] = (
    "political_worker", "psychologist", "centre_coordinator", "committee_member", "auditor", "admin",
)
# Machine clients (other systems with an API key or client token); never a person.
SYSTEM_ROLE: Final = "system"
ALL_ROLES: Final[tuple[str, ...]] = (*STAFF_ROLES, SYSTEM_ROLE)

CASE_WORKER_ROLES: Final[frozenset[str]] = frozenset({"political_worker", "psychologist", "centre_coordinator"})
BROADCAST_ROLES: Final[frozenset[str]] = frozenset({"committee_member", "centre_coordinator"})
DECIDER_ROLES: Final[frozenset[str]] = frozenset({"committee_member"})
# Auditors read aggregates, the ledger and oversight items; never dialogue or notes.
AGGREGATE_READER_ROLES: Final[frozenset[str]] = frozenset(
    {"auditor", "committee_member", "centre_coordinator", "admin"}
)


# Roles one person may hold together: the case workers' roles combine with each other; the committee,
# auditors and administrators stand alone, so nobody decides on, audits or administers their own work.
COMBINABLE_ROLES: Final[frozenset[str]] = CASE_WORKER_ROLES


def role_set_problem(roles: Sequence[str]) -> str | None:
    """Why a staff member may not hold these roles together, or None when they may."""
    if len(set(roles)) != len(roles):
        return "a role is named more than once"
    if len(roles) > 1 and not set(roles) <= COMBINABLE_ROLES:
        alone = sorted(set(roles) - COMBINABLE_ROLES)
        return (f"{', '.join(alone)} must be held alone; only {', '.join(sorted(COMBINABLE_ROLES))} "
                "may be combined")
    return None


def is_staff_role(role: str) -> bool:
    """True when the name is one of the six staff roles."""
    return role in STAFF_ROLES


def unknown_roles(roles: Iterable[str]) -> list[str]:
    """The names in roles that are neither staff roles nor `system`, in the order given."""
    return [role for role in roles if role not in ALL_ROLES]


def may_act_on_cases(roles: Iterable[str]) -> bool:
    """True when any role may work cases (reply, schedule talks, escalate, resolve)."""
    return not CASE_WORKER_ROLES.isdisjoint(roles)


def may_compose_broadcasts(roles: Iterable[str]) -> bool:
    """True when any role may compose a broadcast to the channels."""
    return not BROADCAST_ROLES.isdisjoint(roles)


def may_decide_escalations(roles: Iterable[str]) -> bool:
    """True when any role may record the committee's decision on an escalation."""
    return not DECIDER_ROLES.isdisjoint(roles)


def may_read_aggregates(roles: Iterable[str]) -> bool:
    """True when any role may read statistics and SLA summaries."""
    return not AGGREGATE_READER_ROLES.isdisjoint(roles)
