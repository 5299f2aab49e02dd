"""Who takes a concern, which officer it is about, and when concerns group: pure rules, no I/O."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tongpin.shared.events import SEVERITIES

CRISIS_FLAGS = frozenset({"self_harm", "violence"})
# Who may choose an assignee by hand (counselling's POST /cases/{id}/assign admits the same role).
ASSIGNER_ROLES = frozenset({"centre_coordinator"})
# The coordinator may take any route's work; otherwise only the route's own pool works it.
_ROUTE_ROLES = {
    "answer_online": ("political_worker", "centre_coordinator"),
    "psych_support": ("psychologist", "centre_coordinator"),
    "committee": ("centre_coordinator",),
    "oversight": ("centre_coordinator",),
    "dismiss": (),
}
SEVERITY_RANK = {code: len(SEVERITIES) - 1 - index for index, code in enumerate(SEVERITIES)}  # critical 0 … low 3


@dataclass(frozen=True)
class StaffMember:
    """One entry of the assignment pool, as the staff directory last described it."""

    staff_id: str
    roles: frozenset[str]
    active: bool = True
    on_leave: bool = False
    on_call: bool = False

    def available_as(self, role: str) -> bool:
        """True when this person may take new work in this role now."""
        return role in self.roles and self.active and not self.on_leave


def may_choose_assignee(roles: Iterable[str]) -> bool:
    """True when a caller with these roles may name who takes a concern."""
    return not ASSIGNER_ROLES.isdisjoint(roles)


def role_on_route(route: str, roles: Iterable[str]) -> str | None:
    """The role in which someone with these roles works a route (its own pool first), or None if they may not."""
    held = set(roles)
    return next((role for role in _ROUTE_ROLES.get(route, ()) if role in held), None)


def officer_visible(*, flags: Iterable[str], assignee_id: str | None, staff_id: str, roles: Iterable[str]) -> bool:
    """Whether a decision may show which officer it is about: always without a risk flag; with one, only to
    those who may open the case (the coordinator and the assignee), so no one else links a flag to a name."""
    if not list(flags) or "centre_coordinator" in set(roles):
        return True
    return assignee_id is not None and assignee_id == staff_id


def is_crisis(*, severity: str, flags: Iterable[str]) -> bool:
    """Critical severity or a self-harm/violence flag takes the crisis path."""
    return severity == "critical" or bool(CRISIS_FLAGS.intersection(flags))


def pick_assignee(
    pool: Iterable[StaffMember], *, role: str | None, load: Mapping[str, int], crisis: bool = False
) -> str | None:
    """Least-loaded available staff of the role (the on-call psychologist first in a crisis); None if nobody."""
    if role is None:
        return None
    candidates = [member for member in pool if member.available_as(role)]
    if crisis:
        on_call = [member for member in candidates if member.on_call]
        candidates = on_call or candidates
    if not candidates:
        return None
    # Ties go to the lowest id, so the choice is deterministic and a redelivery picks the same person.
    return min(candidates, key=lambda m: (load.get(m.staff_id, 0), m.staff_id)).staff_id


def subject_officer(*, channel_kind: str, about_officer_id: str | None, author_member_id: str | None,
                    anonymous: bool) -> str | None:
    """The officer a concern is about: named explicitly, or the author when an officer writes in the officers' group."""
    if about_officer_id:
        return about_officer_id
    if channel_kind == "officers" and author_member_id and not anonymous:
        return author_member_id
    return None


def joins_cluster(cluster: Mapping[str, Any] | None, *, concern_id: str, sent_at: datetime,
                  window: timedelta) -> bool:
    """Whether a concern joins an officer's existing cluster rather than starting a new one."""
    if cluster is None:
        return False
    if concern_id in cluster.get("concern_ids", ()):
        return cluster.get("primary_concern_id") != concern_id
    if not cluster.get("open", False):
        return False
    return abs(sent_at - cluster["last_at"]) <= window


def theme_id_for(*, unit: str, category: str, started_at: datetime) -> str:
    """A stable id for one theme (a category rising in a unit from a moment on); ids carry no text."""
    digest = hashlib.sha256(f"{unit}|{category}|{started_at.isoformat()}".encode()).hexdigest()[:16]
    return f"theme-{category}-{digest}"


@dataclass(frozen=True)
class OverrideChange:
    """What an override changes in a decision: field -> (before, after)."""

    changes: dict[str, tuple[Any, Any]]

    @property
    def empty(self) -> bool:
        return not self.changes


def diff_override(decision: Mapping[str, Any], requested: Mapping[str, Any]) -> OverrideChange:
    """The fields an override really changes (requested values equal to the current ones are not changes)."""
    changes = {
        key: (decision.get(key), value)
        for key, value in requested.items()
        if value is not None and decision.get(key) != value
    }
    return OverrideChange(changes)
