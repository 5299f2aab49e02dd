"""The ledger, items, refusals and access against the real servers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tongpin.oversight.domain.items import item_id_for
from tongpin.oversight.domain.periods import local_date
from tongpin.shared import events
from tongpin.shared.auth import ALL_ROLES
from tongpin.shared.testing.roles import route_roles, walk_matrix
from tongpin.shared.testing.services import eventually, running

pytestmark = pytest.mark.integration

CANARY = "金丝雀-CANARY-7f3a 心理咨询内容"


def at(month: int, day: int, hour: int = 2) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def triaged(concern_id: str, *, kind: str = "families", route: str = "oversight",
            category: str = "conduct") -> events.ConcernTriaged:
    return events.ConcernTriaged(
        concern_id=concern_id, channel_id=f"{kind}-1", channel_kind=kind, unit="u-1",  # type: ignore[arg-type]
        about_officer_id="officer-4711", category=category, severity="medium", route=route,  # type: ignore[arg-type]
        ruleset_version=1, triaged_at=at(5, 2),
    )


async def done(mongo_client: Any, run_id: str, expected: int) -> bool:
    ledger = mongo_client[f"{run_id}_oversight"]["ledger"]
    return await ledger.count_documents({}) == expected


async def test_a_tampered_or_deleted_ledger_entry_is_found(oversight_app, publish, mongo_client, clean_run,
                                                           signing_key):
    app = oversight_app()
    auditor = signing_key.headers("auditor")
    async with running(app) as client:
        for i in range(6):
            await publish(events.CaseOpened(case_id=f"case-{i}", concern_id=f"c-{i}", channel_kind="officers",
                                            unit="u-1", category="housing", severity="low", opened_at=at(5, 1)))
        await eventually(lambda: done(mongo_client, clean_run, 6))
        intact = (await client.get("/ledger/verify", headers=auditor)).json()
        assert intact == {**intact, "ok": True, "verified": 6, "first_broken_seq": None}
        digest = (await client.get("/ledger/digest", params={"date": local_date(datetime.now(UTC)).isoformat()},
                                   headers=auditor)).json()
        assert digest["seq"] == 6 and digest["hash"] == intact["head_hash"]

        page = (await client.get("/ledger", params={"limit": 4}, headers=auditor)).json()
        assert [r["seq"] for r in page["items"]] == [1, 2, 3, 4] and page["next_after_seq"] == 4
        rest = (await client.get("/ledger", params={"after_seq": 4}, headers=auditor)).json()
        assert [r["seq"] for r in rest["items"]] == [5, 6]

        ledger = mongo_client[f"{clean_run}_oversight"]["ledger"]
        original = await ledger.find_one({"seq": 3})
        await ledger.update_one({"seq": 3}, {"$set": {"entry.data.category": "praise"}})
        edited = (await client.get("/ledger/verify", headers=auditor)).json()
        assert (edited["ok"], edited["first_broken_seq"], edited["reason"]) == (False, 3, "hash mismatch")
        await ledger.replace_one({"seq": 3}, original)
        assert (await client.get("/ledger/verify", headers=auditor)).json()["ok"] is True

        await ledger.delete_one({"seq": 5})
        deleted = (await client.get("/ledger/verify", headers=auditor)).json()
        assert (deleted["ok"], deleted["first_broken_seq"], deleted["reason"]) == (False, 5, "sequence gap")

        # A digest kept outside catches a tail that was rewritten to hide the deletion.
        anchored = await client.get("/ledger/verify", params={"anchor_seq": 6, "anchor_hash": digest["hash"]},
                                    headers=auditor)
        assert anchored.json()["ok"] is False


async def test_items_follow_their_status_and_refusals_move_no_figure(
    oversight_app, publish, mongo_client, clean_run, signing_key, event_capture
):
    app = oversight_app(suppression_threshold=1)
    coordinator = signing_key.headers("centre_coordinator")
    async with running(app) as client:
        await publish(triaged("c-item"))
        await publish(triaged("c-officer", kind="officers"))  # officers' channel: never an oversight item
        opened = await event_capture.wait_for_type("oversight.item.opened")
        item_id = item_id_for("c-item")
        assert opened[0].data["item_id"] == item_id and opened[0].subject == item_id
        await eventually(lambda: done(mongo_client, clean_run, 3))
        items = (await client.get("/items", headers=coordinator)).json()["items"]
        assert [i["id"] for i in items] == [item_id]

        url = f"/items/{item_id}"
        stale = await client.patch(url, headers=coordinator, json={"version": 7, "status": "in_progress"})
        assert stale.status_code == 409
        no_summary = await client.patch(f"/items/{item_id}", headers=coordinator,
                                        json={"version": 1, "status": "not_substantiated"})
        assert no_summary.status_code == 422 and "public_summary" in no_summary.json()["detail"]
        assert (await client.get(f"/items/{item_id}", headers=coordinator)).json()["version"] == 1

        summary = "经核查，反映的情况属实，已责成所在单位整改（2026年5月）。👍"
        for expected, body in ((4, {"version": 1, "status": "in_progress"}),
                               (5, {"version": 2, "status": "resolved", "public_summary": summary})):
            response = await client.patch(f"/items/{item_id}", headers=coordinator, json=body)
            assert response.status_code == 200, response.text
            await eventually(lambda n=expected: done(mongo_client, clean_run, n))
        closed = await event_capture.wait_for_type("oversight.item.closed")
        assert closed[0].data == {"item_id": item_id, "concern_id": "c-item", "status": "resolved", "unit": "u-1",
                                  "closed_at": closed[0].data["closed_at"]}
        # At least once: the relay may publish an event twice; one event id is one status change.
        assert len({e.id for e in event_capture.of_type("oversight.item.updated")}) == 1
        public = (await client.get(f"/public/items/{item_id}")).json()
        assert public["public_summary"] == summary and public["status"] == "resolved"
        assert "unit" not in public and "concern_id" not in public
        final = await client.patch(url, headers=coordinator, json={"version": 3, "status": "in_progress"})
        assert final.status_code == 409
        assert final.json()["allowed"] == ["not_substantiated"]
        assert "the allowed changes are: not_substantiated" in final.json()["detail"]
        await eventually(lambda: done(mongo_client, clean_run, 5))
        year = (await client.get("/public/oversight", params={"period": "2026"})).json()
        assert (year["found"], year["resolved"]) == (1, 1)
        assert "u-1" not in json.dumps(year)  # public answers never say which units had an item

        before = (await client.get("/statistics", params={"period": "2026"},
                                   headers=signing_key.headers("auditor"))).json()
        forged = await publish(events.CaseOpened(case_id="case-forged", concern_id="c-x", channel_kind="officers",
                                                 unit="u-1", category="housing", severity="low", opened_at=at(5, 3)),
                               source="tongpin/intake")
        orphan = await publish(events.CaseResolved(
            case_id="case-never-opened", method="answered_online", outcome_code="question_answered",
            channel_kind="officers", unit="u-1", category="housing", severity="low", opened_at=at(5, 3),
            resolved_at=at(5, 4)))
        unitless = await publish(events.CaseOpened(case_id="case-nowhere", concern_id="c-y", channel_kind="officers",
                                                   category="housing", severity="low", opened_at=at(5, 3)))
        rejected = mongo_client[f"{clean_run}_oversight"]["rejected"]
        await eventually(lambda: _count(rejected, {"final": True}, 3), timeout=15)
        listed = (await client.get("/rejected", headers=signing_key.headers("auditor"))).json()["items"]
        reasons = {r["event_id"]: r["reason"] for r in listed}
        assert reasons == {forged.id: "wrong_source", orphan.id: "unknown_case", unitless.id: "missing_unit"}
        after = (await client.get("/statistics", params={"period": "2026"},
                                  headers=signing_key.headers("auditor"))).json()
        assert after == before
        ledger = mongo_client[f"{clean_run}_oversight"]["ledger"]
        assert await ledger.count_documents({"_id": {"$in": [forged.id, orphan.id, unitless.id]}}) == 0
        dead = mongo_client[f"{clean_run}_oversight"]["dead_letters"]
        assert await dead.count_documents({}) == 0  # refused events are acked, not dead-lettered


async def _count(collection: Any, query: dict[str, Any], expected: int) -> bool:
    return await collection.count_documents(query) == expected


async def test_every_route_declares_roles_and_auditors_read_no_dialogue(
    oversight_app, publish, mongo_client, clean_run, signing_key
):
    app = oversight_app()
    async with running(app) as client:
        problems = await walk_matrix(client, app, service="oversight",
                                     headers_for=lambda role: signing_key.headers(role))
        assert problems == []
        table = {(r.method, r.path): r.roles for r in route_roles(app)}
        assert table[("GET", "/public/oversight")] is None
        assert table[("PATCH", "/items/{item_id}")] == {"centre_coordinator", "admin"}
        assert table[("GET", "/ledger")] == {"auditor", "admin"}
        assert table[("GET", "/statistics")] == {"auditor", "admin", "committee_member"}

        # Text people and staff wrote travels on the exchange, and none of it reaches oversight.
        await publish(events.ConcernRaised(concern_id="c-canary", channel_id="officers-1", channel_kind="officers",
                                           origin="api", text=CANARY, sent_at=at(5, 2),
                                           about_officer_id="officer-4711"))
        await publish(events.ReplyRequested(reply_id="r-1", case_id="case-c", concern_id="c-canary", staff_id="s-1",
                                            text=CANARY, requested_at=at(5, 2)))
        await publish(events.CaseOpened(case_id="case-c", concern_id="c-canary", channel_kind="officers", unit="u-1",
                                        category="mental_distress", severity="high", opened_at=at(5, 2)))
        await publish(triaged("c-canary", kind="officers", route="psych_support", category="mental_distress"))
        await eventually(lambda: done(mongo_client, clean_run, 2))
        auditor = signing_key.headers("auditor")
        answers = []
        for route in route_roles(app):
            if route.method != "GET" or (route.roles is not None and "auditor" not in route.roles):
                continue
            path = route.path.replace("{item_id}", item_id_for("c-canary"))
            params = {"period": "2026"} if "statistics" in path or "oversight" in path else {}
            if path.endswith("/digest"):
                params = {"date": local_date(datetime.now(UTC)).isoformat()}
            answers.append((await client.get(path, params=params, headers=auditor)).text)
        everything = "\n".join(answers)
        assert CANARY not in everything and "officer-4711" not in everything
        assert '"case-c"' in everything  # the ledger does answer, with ids and codes
        db = mongo_client[f"{clean_run}_oversight"]
        for name in await db.list_collection_names():
            async for doc in db[name].find({}):
                dumped = json.dumps(doc, default=str, ensure_ascii=False)
                assert CANARY not in dumped and "officer-4711" not in dumped, name
        assert await db["ledger"].count_documents({"type": {"$in": sorted(events.TEXT_CARRYING)}}) == 0
        assert len(ALL_ROLES) == 7


async def test_every_auditor_query_is_recorded(oversight_app, clean_run, signing_key):
    app = oversight_app()
    async with running(app) as client:
        auditor = signing_key.headers("auditor", sub="auditor-纪检-01")
        await client.get("/statistics", params={"period": "2026-Q2"}, headers=auditor)
        await client.get("/ledger", params={"limit": 10}, headers=auditor)
        since = datetime.now(UTC) - timedelta(minutes=1)
        listed = (await client.get("/audit/queries", headers=auditor)).json()["items"]
        mine = [q for q in listed if q["who"] == "auditor-纪检-01"]
        assert [(q["path"], q["query"]) for q in mine] == [
            ("/audit/queries", {}), ("/ledger", {"limit": "10"}), ("/statistics", {"period": "2026-Q2"}),
        ]
        assert all(datetime.fromisoformat(q["at"]) >= since for q in mine)
        assert mine[0]["roles"] == ["auditor"]


async def test_an_item_follows_its_case_and_staff_may_still_finish_it(
    oversight_app, publish, mongo_client, clean_run, signing_key, event_capture
):
    """Work starting, the case resolved and reopened move the item, at the times the case moved."""
    app = oversight_app(suppression_threshold=1)
    coordinator, auditor = signing_key.headers("centre_coordinator"), signing_key.headers("auditor")
    item_id, case_id = item_id_for("c-follow"), "case-c-follow"
    case = {"case_id": case_id, "unit": "u-1"}
    async with running(app) as client:

        async def status() -> str:
            return str((await client.get(f"/items/{item_id}", headers=coordinator)).json().get("status"))

        async def becomes(expected: str) -> bool:
            return await status() == expected

        await publish(triaged("c-follow"))
        await publish(events.CaseOpened(concern_id="c-follow", channel_kind="families", category="conduct",
                                        severity="medium", opened_at=at(5, 2, 3), **case))
        await eventually(lambda: becomes("received"))
        await publish(events.CaseReplied(reply_id="r-1", first_response=True, replied_at=at(5, 3), **case))
        await eventually(lambda: becomes("in_progress"))
        await publish(events.TalkScheduled(talk_id="t-1", scheduled_for=at(5, 9), scheduled_at=at(5, 4), **case))
        await publish(events.CaseResolved(method="answered_online", outcome_code="question_answered",
                                          channel_kind="families", category="conduct", severity="medium",
                                          opened_at=at(5, 2, 3), resolved_at=at(6, 10), **case))
        await eventually(lambda: becomes("resolved"))
        item = (await client.get(f"/items/{item_id}", headers=coordinator)).json()
        assert datetime.fromisoformat(item["closed_at"]) == at(6, 10) and item["public_summary"] is None
        public = (await client.get(f"/public/items/{item_id}")).json()
        assert public["status"] == "resolved"
        await publish(events.CaseReopened(reason_code="problem_recurred", reopened_at=at(7, 1), **case))
        await eventually(lambda: becomes("reopened"))
        await publish(events.CaseResolved(method="answered_online", outcome_code="question_answered",
                                          channel_kind="families", category="conduct", severity="medium",
                                          opened_at=at(5, 2, 3), resolved_at=at(7, 20), **case))
        await eventually(lambda: becomes("resolved"))

        def statuses() -> list[str]:
            return [e.data["status"] for e in sorted(
                {e.id: e for e in event_capture.events if e.type.startswith("oversight.item")}.values(),
                key=lambda e: e.data.get("opened_at") or e.data.get("changed_at") or e.data.get("closed_at"))]

        # The item's events go out through its outbox, after the item itself changed.
        await eventually(lambda: len(statuses()) == 5)
        assert statuses() == ["received", "in_progress", "resolved", "reopened", "resolved"]

        # Staff add the public summary the case's resolution could not give, once.
        version = (await client.get(f"/items/{item_id}", headers=coordinator)).json()["version"]
        summary = "经核查属实，已整改并回访（2026年7月）。"
        added = await client.patch(f"/items/{item_id}", headers=coordinator,
                                   json={"version": version, "public_summary": summary})
        assert added.status_code == 200, added.text
        again = await client.patch(f"/items/{item_id}", headers=coordinator,
                                   json={"version": version + 1, "public_summary": "改写"})
        assert again.status_code == 422
        refused = await client.patch(f"/items/{item_id}", headers=coordinator,
                                     json={"version": version + 1, "status": "in_progress"})
        assert refused.status_code == 409 and refused.json()["allowed"] == ["not_substantiated"]

        async def figures() -> dict[str, Any]:
            return dict((await client.get("/statistics", params={"period": "2026", "unit": "u-1"},
                                          headers=auditor)).json()["oversight"])

        async def counted() -> bool:
            found = await figures()
            return (found["found"], found["resolved"], found["reopened"]) == (1, 1, 1)

        await eventually(counted)
        july = (await client.get("/statistics", params={"period": "2026-07"}, headers=auditor)).json()
        june = (await client.get("/statistics", params={"period": "2026-06"}, headers=auditor)).json()
        assert (june["oversight"]["resolved"], july["oversight"]["resolved"]) == (0, 1)
