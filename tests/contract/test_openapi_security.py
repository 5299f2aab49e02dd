"""Each service's OpenAPI document says how to authenticate and documents every refusal as a problem."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from tongpin.counselling.app import create_app as create_counselling
from tongpin.counselling.settings import CounsellingSettings
from tongpin.intake.app import create_app as create_intake
from tongpin.intake.settings import IntakeSettings
from tongpin.oversight.app import create_app as create_oversight
from tongpin.oversight.settings import OversightSettings
from tongpin.shared.testing.roles import load_policy
from tongpin.triage.app import create_app as create_triage
from tongpin.triage.settings import TriageSettings

pytestmark = pytest.mark.contract

APPS = {
    "intake": lambda: create_intake(IntakeSettings()),
    "triage": lambda: create_triage(TriageSettings()),
    "counselling": lambda: create_counselling(CounsellingSettings()),
    "oversight": lambda: create_oversight(OversightSettings()),
}
PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def operations(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, operation) for path, ops in app.openapi()["paths"].items()
            for method, operation in ops.items()]


@pytest.mark.parametrize("service", sorted(APPS))
def test_security_schemes_and_refusals_are_documented(service: str) -> None:
    app = APPS[service]()
    document = app.openapi()
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert schemes["apiKeyAuth"] == {**schemes["apiKeyAuth"], "type": "apiKey", "in": "header", "name": "X-API-Key"}
    policy = load_policy(service)
    for method, path, operation in operations(app):
        responses = operation["responses"]
        assert responses["422"]["content"] == PROBLEM, (method, path)
        row = policy.get((method, path))
        if row is None or row.public:
            assert operation["security"] == [], (method, path)
            continue
        expected = [{"bearerAuth": []}] + ([{"apiKeyAuth": []}] if "system" in row.admitted else [])
        assert operation["security"] == expected, (method, path)
        for code in ("401", "403"):
            assert responses[code]["content"] == PROBLEM, (method, path, code)
        if method in ("POST", "PUT", "PATCH", "DELETE"):
            assert responses["409"]["content"] == PROBLEM, (method, path)


def test_throttled_routes_document_429() -> None:
    counselling = {(m, p): o for m, p, o in operations(APPS["counselling"]())}
    intake = {(m, p): o for m, p, o in operations(APPS["intake"]())}
    assert "429" in counselling[("POST", "/auth/token")]["responses"]
    for path in ("/public/submissions", "/public/receipts/thread", "/public/receipts/messages"):
        assert intake[("POST", path)]["responses"]["429"]["content"] == PROBLEM
