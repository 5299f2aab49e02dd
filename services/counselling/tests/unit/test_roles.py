"""Role names mirror the event catalogue and docs/access-policy.md; who may act, broadcast and decide."""

from __future__ import annotations

import pytest

from tongpin.counselling.domain.roles import (
    ALL_ROLES,
    STAFF_ROLES,
    is_staff_role,
    may_act_on_cases,
    may_compose_broadcasts,
    may_decide_escalations,
    may_read_aggregates,
    unknown_roles,
)
from tongpin.shared.events import StaffRole

pytestmark = pytest.mark.unit

# role -> (act on cases, compose broadcasts, decide escalations, read aggregates)
TABLE = {
    "political_worker": (True, False, False, False),
    "psychologist": (True, False, False, False),
    "centre_coordinator": (True, True, False, True),
    "committee_member": (False, True, True, True),
    "auditor": (False, False, False, True),
    "admin": (False, False, False, True),
    "system": (False, False, False, False),
}


def test_staff_roles_match_the_event_catalogue() -> None:
    assert STAFF_ROLES == StaffRole.__args__  # type: ignore[attr-defined]
    assert set(ALL_ROLES) == set(TABLE)


@pytest.mark.parametrize(("role", "expected"), TABLE.items())
def test_permissions(role: str, expected: tuple[bool, bool, bool, bool]) -> None:
    assert (
        may_act_on_cases([role]), may_compose_broadcasts([role]), may_decide_escalations([role]),
        may_read_aggregates([role]),
    ) == expected


def test_helpers() -> None:
    assert is_staff_role("psychologist") and not is_staff_role("system")
    assert unknown_roles(["admin", "root", "system", "guest"]) == ["root", "guest"]
    assert may_act_on_cases(["auditor", "psychologist"])
    assert not may_act_on_cases([])
