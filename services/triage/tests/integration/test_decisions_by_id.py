"""Decisions and work items changed for a list of concerns: each by its id where the server reads ``$in``
by scanning the collection (FerretDB), one ``$in`` update elsewhere; the same end state either way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from tongpin.shared.mongo import service_database
from tongpin.shared.testing.commands import SentCommands
from tongpin.triage.repository import DecisionRepository, StaffRepository

pytestmark = pytest.mark.integration

AT = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


def _decision(concern_id: str, **extra: Any) -> dict[str, Any]:
    return {"_id": concern_id, "unit": "城关派出所", "open": True, "theme_id": None, "case_state": None,
            "case_state_at": None, "version": 1, **extra}


@pytest.mark.parametrize("one_by_one", [True, False], ids=["one-by-one", "in-query"])
async def test_a_list_of_concerns_is_changed_by_id_and_only_those(mongodb_url, run_id, one_by_one):
    listener = SentCommands()
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongodb_url, tz_aware=True, event_listeners=[listener])
    db = service_database(client, f"{run_id}_triage_ids")
    db.ids_one_by_one = one_by_one  # type: ignore[attr-defined]
    try:
        decisions, staff = DecisionRepository(db), StaffRepository(db)
        await db["decisions"].insert_many(
            [_decision(f"c{i:02d}") for i in range(12)] + [_decision("c90", theme_id="theme-已有")])
        await db["workload"].insert_many([{"_id": f"c{i:02d}", "assignee_id": "s1", "open": True, "case_id": None}
                                          for i in range(12)])
        listed = ["c03", "c07", "c11", "c90", "gone"]

        await decisions.set_open(listed, open_=False)
        await decisions.set_theme(listed, "theme-新")
        await decisions.set_case_state(state="resolved", at=AT, concern_ids=listed)
        # An older state arriving later changes nothing.
        await decisions.set_case_state(state="talk_scheduled", at=AT - timedelta(days=1), concern_ids=listed)
        await staff.resolve_case("case-1", listed)

        docs = {d["_id"]: d async for d in db["decisions"].find({})}
        changed = {"c03", "c07", "c11", "c90"}
        for concern_id, doc in docs.items():
            if concern_id in changed:
                assert (doc["open"], doc["case_state"], doc["case_state_at"]) == (False, "resolved", AT), doc
            else:
                assert (doc["open"], doc["case_state"], doc["theme_id"]) == (True, None, None), doc
        assert {k: docs[k]["theme_id"] for k in ("c03", "c07", "c11", "c90")} == {
            "c03": "theme-新", "c07": "theme-新", "c11": "theme-新", "c90": "theme-已有"}  # a theme is kept
        work = {d["_id"]: d async for d in db["workload"].find({})}
        assert {k for k, d in work.items() if d["case_id"] == "case-1"} == {"c03", "c07", "c11"}
        assert "gone" not in docs and "gone" not in work

        by_list = [f for f in listener.update_filters() if isinstance(f.get("_id"), dict)]
        if one_by_one:
            # FerretDB hands PostgreSQL an _id equality, never an $in: each update reads one document.
            assert by_list == [], by_list
        else:
            assert by_list and all(set(f["_id"]) == {"$in"} for f in by_list)
    finally:
        await client.drop_database(f"{run_id}_triage_ids")
        await client.close()
