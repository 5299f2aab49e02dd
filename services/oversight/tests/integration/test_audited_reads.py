"""Audited reads refuse unknown query parameters and store the query as data (pen-test finding 7)."""

from __future__ import annotations

import pytest

from tongpin.shared.testing.services import running

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(("path", "params"), [
    ("/ledger", {"a.b": "1"}), ("/ledger", {"$": "1"}), ("/ledger", {"$where": "1", "limit": "5"}),
    ("/ledger/count", {"bogus": "x"}), ("/statistics", {"period": "2026", "unit.$gt": ""}),
    ("/items", {"status": "resolved", "x": "y"}), ("/audit/queries", {"limit": "5", "": "1"}),
])
async def test_an_unknown_parameter_on_an_audited_read_is_refused_and_nothing_recorded(
    oversight_app, clean_run, signing_key, mongo_client, path, params
):
    async with running(oversight_app()) as client:
        response = await client.get(path, params=params, headers=signing_key.headers("auditor"))
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        unknown = [name for name in params if name not in ("limit", "period", "status")]
        assert [e["field"] for e in response.json()["errors"]] == unknown
        assert await mongo_client[f"{clean_run}_oversight"]["audit_queries"].count_documents({}) == 0


async def test_the_query_is_stored_as_name_and_value_pairs(oversight_app, clean_run, signing_key, mongo_client):
    async with running(oversight_app()) as client:
        auditor = signing_key.headers("auditor", sub="auditor-纪检-02")
        answered = await client.get("/ledger", params={"limit": "5", "type": "case.opened.v1"}, headers=auditor)
        assert answered.status_code == 200, answered.text
        stored = await mongo_client[f"{clean_run}_oversight"]["audit_queries"].find_one({"who": "auditor-纪检-02"})
        assert stored["query"] == [{"name": "limit", "value": "5"}, {"name": "type", "value": "case.opened.v1"}]
        listed = (await client.get("/audit/queries", headers=auditor)).json()["items"]
        ledger_read = next(q for q in listed if q["path"] == "/ledger")
        assert ledger_read["query"] == {"limit": "5", "type": "case.opened.v1"}
