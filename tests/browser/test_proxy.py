"""The console's nginx as the public entry (pen-test findings 3 and 13): metrics and API documents stay
off it, its own errors are problem+json, and the client it names is the one that connected."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from .conftest import Stack

pytestmark = pytest.mark.e2e


def is_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return dict(body)


@pytest.mark.parametrize("service", ["intake", "triage", "counselling", "oversight"])
def test_metrics_and_api_documents_are_not_served_through_the_proxy(stack: Stack, service: str) -> None:
    with httpx.Client(base_url=stack.url, timeout=15) as client:
        for path in ("metrics", "docs", "redoc", "openapi.json", "docs/oauth2-redirect"):
            is_problem(client.get(f"/api/{service}/{path}"), 404)
        assert client.get(f"/api/{service}/healthz").status_code == 200
    # The service itself still answers its scraper and its developers.
    assert httpx.get(f"{stack.services[service].url}/metrics", timeout=15).status_code == 200


def test_nginx_answers_its_own_errors_as_problems(stack: Stack) -> None:
    with httpx.Client(base_url=stack.url, timeout=15) as client:
        is_problem(client.get("/no-such-page.js"), 404)
        is_problem(client.post("/api/intake/public/submissions", content=b"x" * (2 * 1024 * 1024),
                               headers={"content-type": "application/json"}), 413)
        is_problem(client.post("/index.html", content=b"{}"), 405)


def test_the_client_is_the_address_that_connected_not_what_it_claims(stack: Stack, mongodb_url: str) -> None:
    username = f"nobody-{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=stack.url, timeout=15) as client:
        answer = client.post("/api/counselling/auth/token", data={"username": username, "password": "guess"},
                             headers={"X-Forwarded-For": "203.0.113.99"})
    assert answer.status_code == 401
    with MongoClient(mongodb_url) as mongo:
        recorded = list(mongo[f"{stack.run_id}_counselling"]["login_attempts"].find({"username": username}))
    assert [a["client"] for a in recorded] == ["127.0.0.1"]
