"""NUL characters and numbers beyond 8-byte integers are refused at the edge (pen-test finding 5)."""

from __future__ import annotations

import pytest

from .test_triage_service import COORDINATOR, decision_of

pytestmark = pytest.mark.integration

BIG = 2**64


def problem(response, field: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in response.json()["errors"]], response.json()


async def test_an_override_with_nul_or_a_huge_version_is_refused(triage, publish, signing_key):
    _, client = triage
    raised = await publish.concern("这个月工资怎么少发了三百", author_member_id="off-nul")
    before = await decision_of(client, signing_key, raised.concern_id)
    url = f"/decisions/{raised.concern_id}/overrides"
    headers = signing_key.headers(COORDINATOR)
    problem(await client.post(url, headers=headers, json={"severity": "high", "reason": "核实\u0000"}), "reason")
    problem(await client.post(url, headers=headers, json={"severity": "high", "reason": "核实", "version": BIG}),
            "version")
    problem(await client.get("/queue", headers=headers, params={"unit": "u\u0000"}), "unit")
    assert (await decision_of(client, signing_key, raised.concern_id))["version"] == before["version"]
