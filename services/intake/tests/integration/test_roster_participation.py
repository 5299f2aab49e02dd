"""Issue 3, points 1 and 2: roster import (JSON and CSV) and participation from joins and leaves at past dates."""

from __future__ import annotations

import asyncio

import pytest

from tongpin.intake.handlers.roster import member_id_for
from tongpin.intake.testing import intake, officer, setup_channel
from tongpin.shared.testing.services import eventually

pytestmark = pytest.mark.integration


async def test_json_roster_upsert_is_idempotent_and_reports_bad_rows(
    intake_settings, clean_run, signing_key, mongo_client, event_capture
):
    admin = signing_key.headers("centre_coordinator")
    rows = [
        officer("P1001"), officer("P1002"),
        {"external_id": "F2001", "name": "家属甲", "member_kind": "family", "linked_officer_external_id": "P1001"},
        {"external_id": "S3001", "name": "代表乙", "member_kind": "supervisor", "supervisor_kind": "npc_deputy"},
        {"external_id": "P1003", "name": "无单位", "member_kind": "officer"},  # no unit
        {"external_id": "F2002", "name": "家属丙", "member_kind": "family", "linked_officer_external_id": "P9999"},
        {"external_id": "bad id", "name": "空格", "member_kind": "officer", "unit": "u"},
    ]
    async with intake(intake_settings()) as client:
        first = await client.post("/roster", json={"rows": rows}, headers=admin)
        assert first.status_code == 200, first.text
        report = first.json()
        assert sorted(report["created"]) == sorted(member_id_for(x) for x in ("P1001", "P1002", "F2001", "S3001"))
        rejected = {(r["row"], r["field"]) for r in report["rejected"]}
        assert rejected == {(5, "unit"), (6, "linked_officer_external_id"), (7, "external_id")}
        await event_capture.wait_for_type("roster.updated", count=4)

        again = await client.post("/roster", json={"rows": rows[:4]}, headers=admin)
        assert len(again.json()["unchanged"]) == 4 and again.json()["created"] == []
        members = mongo_client[f"{clean_run}_intake"]["members"]
        assert await members.count_documents({}) == 4

        leaving = {**rows[1], "active": False, "since": "2024-06-30"}
        left = await client.post("/roster", json={"rows": [leaving]}, headers=admin)
        assert left.json()["updated"] == [member_id_for("P1002")]
        events = await event_capture.wait_for_type("roster.updated", count=5)
        await asyncio.sleep(0.3)
        assert len(event_capture.of_type("roster.updated")) == 5
        last = next(e for e in events if e.data["active"] is False)
        assert last.data["member_kind"] == "officer" and last.data["channel_kind"] == "officers"
        assert last.data["unit"] == "unit-01" and last.data["effective_at"].startswith("2024-06-29T16:00:00")
        family = await members.find_one({"_id": member_id_for("F2001")})
        assert family["linked_officer_id"] == member_id_for("P1001") and family["name"] == "家属甲"


async def test_csv_with_good_and_bad_rows_imports_the_good_and_reports_the_bad(
    intake_settings, clean_run, signing_key, mongo_client
):
    csv_text = (
        "工号,姓名,类别,单位,关联民警工号,监督类别,起始日期\n"
        "P1001,张三,民警,unit-01,,,2024/01/01\n"
        "P1002,李四,辅警,,,,\n"  # auxiliary without unit: rejected
        "F2001,王芳😊,家属,,P1001,,\n"
        "S3001,赵六,监督员,,,政协委员,2024年3月1日\n"
        "S3002,钱七,监督员,,,外星人,\n"  # unknown supervisor kind
        "P1003,孙八,民警,unit-02,,,2024-13-01\n"  # bad date
    )
    async with intake(intake_settings()) as client:
        response = await client.post("/roster/csv", content=csv_text.encode("utf-8"),
                                     headers={**signing_key.headers("system"), "content-type": "text/csv"})
        assert response.status_code == 200, response.text
        report = response.json()
        assert sorted(report["created"]) == sorted(member_id_for(x) for x in ("P1001", "F2001", "S3001"))
        assert {(r["row"], r["field"]) for r in report["rejected"]} == {(3, "unit"), (6, "supervisor_kind"),
                                                                        (7, "since")}
        members = mongo_client[f"{clean_run}_intake"]["members"]
        assert await members.count_documents({}) == 3
        assert (await members.find_one({"_id": member_id_for("F2001")}))["name"] == "王芳😊"
        not_utf8 = await client.post("/roster/csv", content="工号,姓名,类别\n".encode("gbk"),
                                     headers={**signing_key.headers("admin"), "content-type": "text/csv"})
        assert not_utf8.status_code == 200 and "UTF-8" in not_utf8.json()["rejected"][0]["reason"]
        assert await members.count_documents({}) == 3


async def test_participation_at_past_dates_from_joins_and_leaves(
    intake_settings, clean_run, signing_key, mongo_client, event_capture
):
    admin, system = signing_key.headers("admin"), signing_key.headers("system")
    rows = [officer(f"P{i}", since="2024-01-01") for i in range(1, 5)]
    rows.append({"external_id": "F1", "name": "家属", "member_kind": "family", "linked_officer_external_id": "P1",
                 "since": "2024-01-01"})
    async with intake(intake_settings()) as client:
        await setup_channel(client, admin)
        await setup_channel(client, admin, channel_id="families-01", kind="families")
        assert (await client.post("/roster", json={"rows": rows}, headers=admin)).status_code == 200
        for i in (1, 2, 3):
            r = await client.post("/channels/officers-01/joins", headers=system,
                                  json={"member_external_id": f"P{i}", "joined_at": "2024-02-01T09:00:00+08:00"})
            assert r.status_code == 201, r.text
        repeat = await client.post("/channels/officers-01/joins", headers=system,
                                   json={"member_external_id": "P1", "joined_at": "2024-02-02T09:00:00+08:00"})
        assert repeat.status_code == 200 and repeat.json()["changed"] is False
        p4 = member_id_for("P4")
        await client.post("/channels/officers-01/joins", headers=system,
                          json={"member_id": p4, "joined_at": "2024-03-01T00:00:00Z"})
        left = await client.post("/channels/officers-01/leaves", headers=system,
                                 json={"member_id": p4, "left_at": "2024-04-01T00:00:00Z"})
        assert left.status_code == 200 and left.json()["in_channel"] is False
        wrong_kind = await client.post("/channels/families-01/joins", headers=system,
                                       json={"member_id": p4, "joined_at": "2024-03-01T00:00:00Z"})
        assert wrong_kind.status_code == 422 and "member_id" in wrong_kind.json()["detail"]
        unknown = await client.post("/channels/nope/joins", headers=system,
                                    json={"member_id": p4, "joined_at": "2024-03-01T00:00:00Z"})
        assert unknown.status_code == 404

        async def at(moment: str) -> dict:
            r = await client.get("/participation", params={"at": moment}, headers=signing_key.headers("auditor"))
            assert r.status_code == 200, r.text
            return r.json()

        assert (await at("2024-02-15T00:00:00Z"))["officers"] == {"joined": 3, "headcount": 4, "ratio": 0.75,
                                                                  "percent": 75.0}
        assert (await at("2024-03-15T00:00:00Z"))["officers"]["joined"] == 4
        assert (await at("2024-04-15T00:00:00Z"))["officers"]["ratio"] == 0.75
        assert (await at("2023-12-01T00:00:00Z"))["officers"]["headcount"] == 0
        families = (await at("2024-02-15T00:00:00Z"))["families"]
        assert families == {"joined": 0, "headcount": 1, "ratio": 0.0, "percent": 0.0}

        channels = await client.get("/channels", params={"at": "2024-02-15T00:00:00Z"},
                                    headers=signing_key.headers("auditor"))
        listed = {c["id"]: c for c in channels.json()["items"]}
        assert listed["officers-01"]["members_joined"] == 3
        assert listed["officers-01"]["participation"]["ratio"] == 0.75

        joined = await event_capture.wait_for_type("member.joined", count=4)
        left_events = await event_capture.wait_for_type("member.left")
        assert sorted(e.data["joined_at"] for e in joined)[0] == "2024-02-01T01:00:00Z"
        assert left_events[0].data["left_at"] == "2024-04-01T00:00:00Z"
        assert left_events[0].data["unit"] == "unit-01" and left_events[0].data["member_kind"] == "officer"
        await asyncio.sleep(0.3)
        assert len(event_capture.of_type("member.joined")) == 4
        memberships = mongo_client[f"{clean_run}_intake"]["memberships"]
        await eventually(lambda: memberships.count_documents({"outbox_pending": 0}))
