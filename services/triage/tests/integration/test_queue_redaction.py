"""The queue never puts an officer id next to a risk flag for someone who may not open the case
(pen-test finding 8)."""

from __future__ import annotations

import pytest

from .test_triage_service import COORDINATOR, decision_of, staff_known

pytestmark = pytest.mark.integration


async def test_officer_ids_beside_risk_flags_are_shown_only_to_who_may_open_the_case(triage, publish, signing_key):
    _, client = triage
    await publish.staff("psy-rd", "psychologist", on_call=True)
    await staff_known(client, signing_key, "psy-rd")
    flagged = await publish.concern("我真的不想活了，每天都很痛苦", author_member_id="off-rd1")
    plain = await publish.concern("食堂能不能增加一个夜宵窗口", author_member_id="off-rd2")
    decision = await decision_of(client, signing_key, flagged.concern_id)
    assert "self_harm" in decision["flags"] and decision["subject_officer_id"] == "off-rd1"
    assert decision["assignee_id"] == "psy-rd"
    await decision_of(client, signing_key, plain.concern_id)

    for headers in (signing_key.headers("admin"), signing_key.headers("political_worker", sub="pw-rd"),
                    signing_key.headers("psychologist", sub="psy-other")):
        one = (await client.get(f"/decisions/{flagged.concern_id}", headers=headers)).json()
        queue = (await client.get("/queue", headers=headers, params={"status": "all"})).json()["items"]
        listed = next(d for d in queue if d["concern_id"] == flagged.concern_id)
        for shown in (one, listed):
            assert shown["flags"] == decision["flags"]
            assert shown["subject_officer_id"] is None and shown["about_officer_id"] is None
            assert shown["officer_hidden"] is True
        unflagged = next(d for d in queue if d["concern_id"] == plain.concern_id)
        assert unflagged["subject_officer_id"] == "off-rd2" and unflagged["officer_hidden"] is False

    for headers in (signing_key.headers(COORDINATOR), signing_key.headers("psychologist", sub="psy-rd")):
        one = (await client.get(f"/decisions/{flagged.concern_id}", headers=headers)).json()
        assert one["subject_officer_id"] == "off-rd1" and one["officer_hidden"] is False
