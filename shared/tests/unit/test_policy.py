"""The written access policy catches a route whose declaration is wrong, not just one without any."""

from __future__ import annotations

from typing import Annotated

import pytest
from fastapi import Depends, FastAPI

from tongpin.shared.auth import Principal, Roles
from tongpin.shared.testing.roles import load_policy, policy_mismatches

pytestmark = pytest.mark.unit


def test_a_wrong_declaration_and_a_route_missing_from_the_policy_are_named() -> None:
    app = FastAPI()

    @app.get("/sla/summary")
    async def summary(_: Annotated[Principal, Depends(Roles("auditor", "political_worker"))]) -> dict[str, str]:
        return {}

    @app.get("/secret-export")
    async def export(_: Annotated[Principal, Depends(Roles("admin"))]) -> dict[str, str]:
        return {}

    problems = policy_mismatches(app, "counselling")
    assert any(p.startswith("GET /sla/summary: the code admits ['auditor', 'political_worker']") for p in problems)
    assert "GET /secret-export: served but not in docs/access-policy.md" in problems
    assert "POST /auth/token: in docs/access-policy.md but not served" in problems


def test_the_policy_reads_reach_per_role() -> None:
    cases = load_policy("counselling")[("GET", "/cases/{case_id}")]
    assert cases.reach["political_worker"] == "team" and cases.reach["centre_coordinator"] == "any"
    assert cases.admitted == {"political_worker", "psychologist", "centre_coordinator"} and not cases.public
    assert load_policy("counselling")[("POST", "/auth/token")].public
