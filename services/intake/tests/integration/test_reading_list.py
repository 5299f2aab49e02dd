"""No message goes unread: triage puts messages on the reading list, staff read them, overdue ones are told."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tongpin.intake.testing import intake, now_iso, publish, setup_channel
from tongpin.shared.events import ConcernTriaged
from tongpin.shared.testing.services import eventually

pytestmark = pytest.mark.integration

TEXT = "最近值班太多，回家孩子都不认识我了，心里堵得慌😔"


async def post(client: Any, signing_key: Any, text: str = TEXT, channel_id: str = "officers-01") -> str:
    response = await client.post("/messages", headers=signing_key.headers("system"), json={
        "channel_id": channel_id, "source_message_id": f"wecom:{uuid.uuid4().hex}", "anonymous": True,
        "text": text, "sent_at": now_iso()})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def triaged(concern_id: str, *, channel_kind: str = "officers", severity: str = "medium", crisis: bool = False,
            dismissed: bool = False, at: datetime | None = None, overridden: bool = False) -> ConcernTriaged:
    return ConcernTriaged(
        concern_id=concern_id, channel_id=f"{channel_kind}-01", channel_kind=channel_kind,  # type: ignore[arg-type]
        unit="unit-01", category="other" if dismissed else "workload_leave", severity=severity,  # type: ignore[arg-type]
        flags=["self_harm"] if crisis else [], route="dismiss" if dismissed else "answer_online",
        ruleset_version=1, crisis=crisis, dismissed=dismissed, overridden=overridden,
        triaged_at=at or datetime.now(UTC), raised_at=datetime.now(UTC))


async def listed(client: Any, signing_key: Any, concern_id: str, *, status: str = "all") -> dict[str, Any]:
    async def fetch() -> dict[str, Any] | None:
        response = await client.get("/reading", headers=signing_key.headers("political_worker"),
                                    params={"status": status, "limit": 200})
        assert response.status_code == 200, response.text
        return next((i for i in response.json()["items"] if i["concern_id"] == concern_id), None)

    return await eventually(fetch, timeout=10)  # type: ignore[no-any-return]


async def test_judged_messages_are_listed_with_text_and_reads_are_recorded_once(
    intake_settings, clean_run, signing_key, event_capture
):
    settings = intake_settings()
    amqp, exchange = settings.amqp_url.get_secret_value(), settings.exchange
    async with intake(settings) as client:
        await setup_channel(client, signing_key.headers("admin"))
        await setup_channel(client, signing_key.headers("admin"), channel_id="supervision-01", kind="supervision")
        concern = await post(client, signing_key)
        chatter = await post(client, signing_key, "收到，明天的谈话我准时到")
        external = await post(client, signing_key, "派出所窗口态度太差", channel_id="supervision-01")
        await publish(amqp, exchange, triaged(concern))
        await publish(amqp, exchange, triaged(chatter, dismissed=True))
        await publish(amqp, exchange, triaged(external, channel_kind="supervision"))

        item = await listed(client, signing_key, concern, status="unread")
        assert item["text"] == TEXT and item["status"] == "unread" and item["target"] == "working_day"
        assert item["reads"] == [] and not item["overdue"]
        everything = await client.get("/reading", headers=signing_key.headers("centre_coordinator"),
                                      params={"status": "all"})
        ids = {i["concern_id"] for i in everything.json()["items"]}
        assert concern in ids and chatter not in ids and external not in ids  # chatter and supervision are not listed
        for role in ("admin", "auditor", "committee_member", "system"):
            assert (await client.get("/reading", headers=signing_key.headers(role))).status_code == 403

        reader = signing_key.headers("political_worker", sub="pw-reader")
        first = await client.post(f"/reading/{concern}/reads", headers=reader)
        assert first.status_code == 200, first.text
        body = first.json()
        assert body["status"] == "read" and body["within_target"] is True
        assert [r["staff_id"] for r in body["reads"]] == ["pw-reader"]
        again = await client.post(f"/reading/{concern}/reads", headers=reader)
        assert [r["staff_id"] for r in again.json()["reads"]] == ["pw-reader"]
        second = await client.post(f"/reading/{concern}/reads", headers=signing_key.headers("psychologist",
                                                                                            sub="psy-2"))
        assert [r["staff_id"] for r in second.json()["reads"]] == ["pw-reader", "psy-2"]
        read_events = await event_capture.wait_for_type("concern.read")
        assert len([e for e in read_events if e.data["concern_id"] == concern]) == 1
        data = read_events[0].data
        assert data["within_target"] is True and data["target"] == "working_day" and "text" not in data
        missing = await client.post(f"/reading/{chatter}/reads", headers=reader)
        assert missing.status_code == 404


async def test_unread_past_target_is_announced_once_and_a_late_read_is_late(
    intake_settings, clean_run, signing_key, event_capture
):
    settings = intake_settings(reading_crisis_minutes=0.005, reading_scan_seconds=0.2)
    amqp, exchange = settings.amqp_url.get_secret_value(), settings.exchange
    async with intake(settings) as client:
        await setup_channel(client, signing_key.headers("admin"))
        concern = await post(client, signing_key, "他把存折和钥匙都交给我了，说以后用不上了")
        await publish(amqp, exchange, triaged(concern, severity="high", crisis=True))
        item = await listed(client, signing_key, concern)
        assert item["target"] == "crisis"

        overdue = await event_capture.wait_for_type("concern.reading_overdue", timeout=10)
        assert overdue[0].data["concern_id"] == concern and overdue[0].data["crisis"] is True
        listed_overdue = await client.get("/reading", headers=signing_key.headers("psychologist"),
                                          params={"status": "overdue"})
        assert [i["concern_id"] for i in listed_overdue.json()["items"]] == [concern]
        assert listed_overdue.json()["counts"]["overdue"] == 1
        late = await client.post(f"/reading/{concern}/reads", headers=signing_key.headers("psychologist"))
        assert late.json()["within_target"] is False
        read = await event_capture.wait_for_type("concern.read")
        assert read[0].data["within_target"] is False
        assert len(event_capture.of_type("concern.reading_overdue")) == 1


async def test_a_decision_raised_to_crisis_shortens_the_target_and_an_older_one_changes_nothing(
    intake_settings, clean_run, signing_key
):
    settings = intake_settings()
    amqp, exchange = settings.amqp_url.get_secret_value(), settings.exchange
    async with intake(settings) as client:
        await setup_channel(client, signing_key.headers("admin"))
        concern = await post(client, signing_key)
        first_at = datetime.now(UTC)
        await publish(amqp, exchange, triaged(concern, at=first_at))
        item = await listed(client, signing_key, concern)
        assert item["target"] == "working_day"
        await publish(amqp, exchange, triaged(concern, severity="critical", at=first_at + timedelta(minutes=3),
                                              overridden=True))

        async def raised() -> dict[str, Any] | None:
            current = await listed(client, signing_key, concern)
            return current if current["target"] == "crisis" else None

        item = await eventually(raised, timeout=10)
        received = datetime.fromisoformat(item["received_at"])
        assert datetime.fromisoformat(item["due_at"]) - received == timedelta(minutes=5)
        await publish(amqp, exchange, triaged(concern, at=first_at + timedelta(minutes=1)))  # late and older
        await publish(amqp, exchange, triaged(concern, severity="low", at=first_at - timedelta(minutes=1)))
        await eventually(lambda: True)
        assert (await listed(client, signing_key, concern))["target"] == "crisis"


async def test_staff_of_a_unit_read_their_unit_and_coordinators_read_every_unit(
    intake_settings, clean_run, signing_key
):
    settings = intake_settings()
    amqp, exchange = settings.amqp_url.get_secret_value(), settings.exchange
    async with intake(settings) as client:
        await setup_channel(client, signing_key.headers("admin"))
        ours, theirs = await post(client, signing_key), await post(client, signing_key, "宿舍漏水一个星期了")
        for concern_id, unit in ((ours, "unit-01"), (theirs, "unit-02")):
            data = triaged(concern_id).model_copy(update={"unit": unit})
            await publish(amqp, exchange, data)
        await listed(client, signing_key, ours)
        await listed(client, signing_key, theirs)

        async def ids(headers: dict[str, str]) -> set[str]:
            response = await client.get("/reading", headers=headers, params={"status": "all", "limit": 200})
            assert response.status_code == 200, response.text
            return {i["concern_id"] for i in response.json()["items"]}

        worker = signing_key.headers("political_worker", unit="unit-01")
        assert ours in await ids(worker) and theirs not in await ids(worker)
        coordinator = signing_key.headers("centre_coordinator", unit="unit-01")
        assert {ours, theirs} <= await ids(coordinator)
        assert (await client.get("/reading", headers=worker, params={"unit": "unit-02"})).status_code == 422
        assert (await client.post(f"/reading/{theirs}/reads", headers=worker)).status_code == 403
        assert (await client.post(f"/reading/{ours}/reads", headers=worker)).status_code == 200
