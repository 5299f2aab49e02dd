"""Need-to-know on cases: who may open and work a case, and who must break the glass to read it.

A case is open to its assignee, to the staff of the team that works it (political workers, or
psychologists for the psychological-support route) in the case's unit, and to the centre
coordinator. Any other case worker may read it only by breaking the glass: stating a reason, which
is recorded, told to the coordinators, and counted for auditors. Nobody acts on a case through the
glass. Staff without a unit belong to no unit's team: they reach cases by assignment only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal

CaseAccess = Literal["coordinator", "assignee", "team"]

COORDINATOR: Final = "centre_coordinator"
TEAMS: Final[tuple[str, ...]] = ("political_worker", "psychologist")
# Roles that may break the glass on a case they cannot open (the coordinator never needs to).
BREAK_GLASS_ROLES: Final[frozenset[str]] = frozenset(TEAMS)


def case_team(case: Mapping[str, Any]) -> str:
    """The team that works a case: its assignee's role, or the psychologists for psychological support."""
    role = case.get("assignee_role")
    if role in TEAMS:
        return str(role)
    return "psychologist" if case.get("route") == "psych_support" else "political_worker"


def case_access(
    case: Mapping[str, Any], *, staff_id: str, roles: Iterable[str], unit: str | None
) -> CaseAccess | None:
    """How the caller may reach a case, or None when only the glass is left."""
    held = set(roles)
    if COORDINATOR in held:
        return "coordinator"
    if case.get("assignee_id") == staff_id:
        return "assignee"
    if unit and case.get("unit") == unit and case_team(case) in held:
        return "team"
    return None


def _team_filter(team: str) -> dict[str, Any]:
    by_route = {"route": "psych_support"} if team == "psychologist" else {"route": {"$ne": "psych_support"}}
    return {"$or": [{"assignee_role": team}, {"assignee_role": {"$nin": list(TEAMS)}, **by_route}]}


def visible_cases(*, staff_id: str, roles: Iterable[str], unit: str | None) -> dict[str, Any] | None:
    """A filter for the cases the caller may open (None: all of them), mirroring case_access."""
    held = set(roles)
    if COORDINATOR in held:
        return None
    clauses: list[dict[str, Any]] = [{"assignee_id": staff_id}]
    if unit:
        clauses += [{"unit": unit, **_team_filter(team)} for team in TEAMS if team in held]
    return {"$or": clauses}
