"""Numbers beyond 8-byte integers are refused at the edge (pen-test finding 5)."""

from __future__ import annotations

import pytest

from tongpin.shared.testing.services import running

pytestmark = pytest.mark.integration

BIG = 2**64


def problem(response, field: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in response.json()["errors"]], response.json()


async def test_huge_sequence_numbers_and_versions_are_refused(oversight_app, signing_key):
    async with running(oversight_app()) as client:
        auditor = signing_key.headers("auditor")
        problem(await client.get("/ledger", headers=auditor, params={"after_seq": BIG}), "after_seq")
        problem(await client.get("/ledger/verify", headers=auditor,
                                 params={"anchor_seq": BIG, "anchor_hash": "0" * 64}), "anchor_seq")
        problem(await client.patch("/items/item-x", headers=signing_key.headers("centre_coordinator"),
                                   json={"version": BIG, "status": "verifying"}), "version")
        problem(await client.get("/ops/dead-letters", headers=signing_key.headers("admin"),
                                 params={"offset": BIG}), "offset")
