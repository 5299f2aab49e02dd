"""Model versions stored, proposed, published, discarded and restored; a damaged one never judges; the queue
follows each case."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tongpin.shared.events import CaseOpened, CaseResolved, OversightItemClosed, TalkScheduled
from tongpin.shared.testing.services import eventually
from tongpin.triage.evaluate import EVAL_DIR
from tongpin.triage.train import load_examples, train

pytestmark = pytest.mark.integration

COORDINATOR = "centre_coordinator"


async def decision_of(client: Any, signing_key: Any, concern_id: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        response = await client.get(f"/decisions/{concern_id}", headers=signing_key.headers(COORDINATOR))
        return response.json() if response.status_code == 200 else None

    return await eventually(check, timeout=10)  # type: ignore[no-any-return]


def small_model() -> bytes:
    """A quickly trained model (every fourth corpus message): different bytes from the packaged one."""
    examples = load_examples([EVAL_DIR / "labelled.jsonl"])[::4]
    return train(examples, name="测试再训练").model.to_bytes()


def proposal(blob: bytes, **extra: Any) -> dict[str, Any]:
    return {"blob": base64.b64encode(blob).decode(), "sha256": hashlib.sha256(blob).hexdigest(),
            "figures": {"blind_a": {"current": {"macro_f1": 0.9}, "proposed": {"macro_f1": 0.91}}},
            "note": "由 12 条纠正重新训练", **extra}


async def test_proposed_model_runs_only_once_a_coordinator_publishes_it(triage, publish, signing_key):
    _, client = triage
    current = (await client.get("/models/current", headers=signing_key.headers("political_worker"))).json()
    assert current["running"] and current["source"] == "packaged" and current["version"] == 1
    ready = (await client.get("/readyz")).json()
    assert ready["judgment"] == {"model_version": 1, "published_version": 1, "degraded": False, "problem": None}

    blob = small_model()
    for role in ("political_worker", "psychologist", "auditor", "committee_member"):
        refused = await client.post("/models", headers=signing_key.headers(role), json=proposal(blob))
        assert refused.status_code == 403, role
    bad_sum = await client.post("/models", headers=signing_key.headers("admin"),
                                json=proposal(blob, sha256="0" * 64))
    assert bad_sum.status_code == 422 and "sha256" in bad_sum.json()["detail"]
    junk = b"not a model at all"
    not_model = await client.post("/models", headers=signing_key.headers("admin"), json=proposal(junk))
    assert not_model.status_code == 422 and "blob" in not_model.json()["detail"]
    assert (await client.get("/models", headers=signing_key.headers(COORDINATOR))).json()["total"] == 1

    proposed = await client.post("/models", headers=signing_key.headers("system"), json=proposal(blob))
    assert proposed.status_code == 201, proposed.text
    draft = proposed.json()
    assert draft["status"] == "draft" and not draft["running"] and draft["version"] == 2
    assert draft["figures"]["blind_a"]["proposed"]["macro_f1"] == 0.91
    again = await client.post("/models", headers=signing_key.headers("system"), json=proposal(blob))
    assert again.status_code == 409

    before = await publish.concern("宿舍的热水器坏了两个星期了，一直没人修", author_member_id="m-v1")
    assert (await decision_of(client, signing_key, before.concern_id))["judgment_version"] == "r1-m1"

    assert (await client.post("/models/2/publish", headers=signing_key.headers("admin"))).status_code == 403
    published = await client.post("/models/2/publish", headers=signing_key.headers(COORDINATOR, sub="coord-m"))
    assert published.status_code == 200, published.text
    assert published.json()["running_version"] == 2 and published.json()["previous_versions"] == [1]
    after = await publish.concern("宿舍的热水器坏了两个星期了，一直没人修", author_member_id="m-v2")
    decided = await decision_of(client, signing_key, after.concern_id)
    assert decided["judgment_version"] == "r1-m2" and decided["model_version"] == 2

    restored = await client.post("/models/restore", headers=signing_key.headers(COORDINATOR))
    assert restored.json()["running_version"] == 1
    discarded = await client.post("/models/2/discard", headers=signing_key.headers(COORDINATOR))
    assert discarded.status_code == 409  # it has run: kept for restore, never discarded


async def test_a_discarded_proposal_never_runs(triage, signing_key):
    _, client = triage
    proposed = await client.post("/models", headers=signing_key.headers(COORDINATOR), json=proposal(small_model()))
    version = proposed.json()["version"]
    discarded = await client.post(f"/models/{version}/discard", headers=signing_key.headers(COORDINATOR,
                                                                                            sub="coord-d"))
    assert discarded.status_code == 200 and discarded.json()["status"] == "discarded"
    assert discarded.json()["discarded_by"] == "coord-d"
    refused = await client.post(f"/models/{version}/publish", headers=signing_key.headers(COORDINATOR))
    assert refused.status_code == 409
    assert (await client.get("/models/current", headers=signing_key.headers(COORDINATOR))).json()["version"] == 1


async def test_a_damaged_model_keeps_the_last_good_one_running_and_says_so(
    triage, publish, signing_key, mongo_client, clean_run
):
    _, client = triage
    blob = small_model()
    proposed = await client.post("/models", headers=signing_key.headers(COORDINATOR), json=proposal(blob))
    version = proposed.json()["version"]
    # The stored bytes are damaged after they were checked (a disk or a hand went wrong).
    damaged = blob[:-10] + b"\x00" * 10
    await mongo_client[f"{clean_run}_triage"]["models"].update_one({"_id": version}, {"$set": {"blob": damaged}})
    published = await client.post(f"/models/{version}/publish", headers=signing_key.headers(COORDINATOR))
    assert published.status_code == 200

    raised = await publish.concern("最近加班太多了，连着三周没休息", author_member_id="m-dmg")
    decided = await decision_of(client, signing_key, raised.concern_id)
    assert decided["judgment_version"] == "r1-m1"  # the last good model judged
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    report = ready.json()["judgment"]
    assert report["model_version"] == 1 and report["published_version"] == version and report["degraded"]
    assert "checksum" in report["problem"]


async def test_model_evidence_is_shown_only_to_roles_that_read_messages(triage, publish, signing_key):
    _, client = triage
    raised = await publish.concern("他把自己的东西都分给了同事，还说以后不用等他吃饭了", channel_kind="families")
    await decision_of(client, signing_key, raised.concern_id)
    reader = (await client.get(f"/decisions/{raised.concern_id}", headers=signing_key.headers("psychologist"))).json()
    assert reader["model_evidence"]["crisis_probability"] >= reader["model_evidence"]["crisis_threshold"]
    assert reader["model_evidence"]["category_ngrams"]
    admin = (await client.get(f"/decisions/{raised.concern_id}", headers=signing_key.headers("admin"))).json()
    assert admin["model_evidence"] is None


async def test_the_queue_follows_each_case_and_handled_items_leave_the_open_view(triage, publish, signing_key):
    _, client = triage
    first = await publish.concern("宿舍的热水器坏了两个星期了，一直没人修", author_member_id="m-q1")
    second = await publish.concern("派出所窗口的人态度很差，排队两个小时", channel_kind="supervision")
    await decision_of(client, signing_key, first.concern_id)
    await decision_of(client, signing_key, second.concern_id)
    now = datetime.now(UTC)
    case_id = f"case-{first.concern_id}"
    await publish.data(CaseOpened(case_id=case_id, concern_id=first.concern_id, channel_kind="officers",
                                  category="housing", severity="medium", opened_at=now))
    await publish.data(TalkScheduled(talk_id="t-1", case_id=case_id, scheduled_for=now + timedelta(days=1),
                                     scheduled_at=now + timedelta(minutes=1)))

    async def state_of(concern_id: str, wanted: str) -> dict[str, Any] | None:
        decided = await decision_of(client, signing_key, concern_id)
        return decided if decided.get("case_state") == wanted else None

    decided = await eventually(lambda: state_of(first.concern_id, "talk_scheduled"))
    assert decided["case_id"] == case_id and decided["open"]
    # A late case.opened does not move it back.
    await publish.data(CaseOpened(case_id=case_id, concern_id=first.concern_id, channel_kind="officers",
                                  category="housing", severity="medium", opened_at=now))
    await publish.data(CaseResolved(case_id=case_id, concern_ids=[first.concern_id], method="resolved_offline",
                                    outcome_code="question_answered", channel_kind="officers", category="housing",
                                    severity="medium", opened_at=now, resolved_at=now + timedelta(hours=2)))
    await publish.data(OversightItemClosed(item_id="item-1", concern_id=second.concern_id, status="resolved",
                                           closed_at=now + timedelta(hours=3)))
    await eventually(lambda: state_of(first.concern_id, "resolved"))

    async def closed() -> dict[str, Any] | None:
        decided = await decision_of(client, signing_key, second.concern_id)
        return decided if decided["oversight_status"] == "resolved" and not decided["open"] else None

    await eventually(closed)
    queue = (await client.get("/queue", headers=signing_key.headers(COORDINATOR), params={"limit": 200})).json()
    assert not {first.concern_id, second.concern_id} & {item["concern_id"] for item in queue["items"]}
    everything = (await client.get("/queue", headers=signing_key.headers(COORDINATOR),
                                   params={"status": "all", "limit": 200})).json()
    assert {first.concern_id, second.concern_id} <= {item["concern_id"] for item in everything["items"]}

