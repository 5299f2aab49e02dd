"""Issue 12: every fact intake announces names the unit it counts in, and public submissions keep their channel's."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tongpin.intake.testing import intake, officer, setup_channel
from tongpin.shared.clock import SimulatedClock

pytestmark = pytest.mark.integration


async def test_a_public_submission_to_a_units_channel_counts_in_that_unit(
    intake_settings, clean_run, signing_key, event_capture
):
    async with intake(intake_settings()) as client:
        admin = signing_key.headers("admin")
        await setup_channel(client, admin, channel_id="jiandu-xtj", kind="supervision", unit="xtj")
        await setup_channel(client, admin, channel_id="jiandu-bureau", kind="supervision")
        to_unit = await client.post("/public/submissions", json={
            "channel_kind": "supervision", "channel_id": "jiandu-xtj", "text": "巡特警大队某民警执勤时玩手机。"})
        assert to_unit.status_code == 201, to_unit.text
        follow_up = await client.post("/public/receipts/messages", json={
            "receipt_code": to_unit.json()["receipt_code"], "text": "补充：周三下午，车站广场。"})
        assert follow_up.status_code == 201, follow_up.text
        to_bureau = await client.post("/public/submissions", json={
            "channel_kind": "supervision", "channel_id": "jiandu-bureau", "text": "希望公开监督事项的办理进度。"})
        assert to_bureau.status_code == 201, to_bureau.text
        raised = await event_capture.wait_for_type("concern.raised", count=3)
        units = {e.data["concern_id"]: e.data["unit"] for e in raised}
        assert units[to_unit.json()["concern_id"]] == "xtj"
        assert sorted(units.values()) == ["bureau", "xtj", "xtj"]  # a channel without a unit: the bureau's own


async def test_members_and_messages_name_their_unit(intake_settings, clean_run, signing_key, event_capture):
    async with intake(intake_settings(bureau_unit="jgj")) as client:
        admin, bridge = signing_key.headers("admin"), signing_key.headers("system")
        await setup_channel(client, admin, channel_id="jiashu", kind="families")
        await setup_channel(client, admin, channel_id="jiandu", kind="supervision", unit="cgpcs")
        rows = [officer("o-1", unit="xtj"),
                {"external_id": "f-1", "name": "家属甲", "member_kind": "family", "linked_officer_external_id": "o-1"},
                {"external_id": "s-1", "name": "代表乙", "member_kind": "supervisor", "supervisor_kind": "npc_deputy"}]
        for row in rows:
            response = await client.post("/roster", headers=bridge, json={"rows": [row]})
            assert response.status_code == 200 and not response.json()["rejected"], response.text
        rostered = await event_capture.wait_for_type("roster.updated", count=3)
        assert {e.data["member_kind"]: e.data["unit"] for e in rostered} == {
            "officer": "xtj", "family": "xtj", "supervisor": "jgj"}
        for channel, member in (("jiashu", "f-1"), ("jiandu", "s-1")):
            joined = await client.post(f"/channels/{channel}/joins", headers=bridge,
                                       json={"member_external_id": member, "joined_at": "2026-03-01T02:00:00Z"})
            assert joined.status_code == 201, joined.text
        joins = await event_capture.wait_for_type("member.joined", count=2)
        assert {e.data["member_kind"]: e.data["unit"] for e in joins} == {"family": "xtj", "supervisor": "jgj"}
        for key, channel, author in (("m-1", "jiashu", "f-1"), ("m-2", "jiandu", "s-1")):
            posted = await client.post("/messages", headers=bridge, json={
                "channel_id": channel, "source_message_id": key, "author_external_id": author,
                "text": "反映一个情况。", "sent_at": "2026-03-02T02:00:00Z"})
            assert posted.status_code == 201, posted.text
        raised = await event_capture.wait_for_type("concern.raised", count=2)
        # A family member's concern counts in their officer's unit; a supervisor's in the channel's.
        assert {e.data["channel_kind"]: e.data["unit"] for e in raised} == {"families": "xtj", "supervision": "cgpcs"}


async def test_a_public_submission_carries_the_business_clocks_time(intake_settings, clean_run, signing_key,
                                                                   event_capture):
    from tongpin.intake.app import create_app
    from tongpin.shared.testing.services import running

    simulated = SimulatedClock(datetime(2025, 6, 30, 15, 59, tzinfo=UTC))  # 23:59 on 30 June in Shanghai
    async with running(create_app(intake_settings(), clock=simulated)) as client:
        await setup_channel(client, signing_key.headers("admin"), channel_id="jiandu", kind="supervision")
        submitted = await client.post("/public/submissions", json={"channel_kind": "supervision",
                                                                   "text": "六月最后一晚的反映。"})
        assert submitted.status_code == 201, submitted.text
        raised = await event_capture.wait_for_type("concern.raised")
        assert datetime.fromisoformat(raised[0].data["sent_at"]) == simulated.now()


async def test_a_roster_date_and_the_reading_week_follow_the_bureaus_one_time_zone(
    intake_settings, clean_run, signing_key, event_capture
):
    """A roster row "since 30 June" starts at midnight on 30 June where the bureau is (its one time zone setting),
    and the reading targets' working week is the same zone's."""
    settings = intake_settings(bureau_time_zone="Europe/London")
    assert settings.reading_targets().timezone == "Europe/London"
    async with intake(settings) as client:
        admin = signing_key.headers("centre_coordinator")
        posted = await client.post("/roster", json={"rows": [officer("P7001", since="2024-06-30")]}, headers=admin)
        assert posted.status_code == 200, posted.text
        rostered = await event_capture.wait_for_type("roster.updated")
        # Midnight of 30 June in London (BST, UTC+1), not in Shanghai (16:00 UTC the day before).
        assert datetime.fromisoformat(rostered[0].data["effective_at"]) == datetime(2024, 6, 29, 23, tzinfo=UTC)
