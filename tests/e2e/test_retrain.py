"""Staff corrections teach triage: overrides become a proposed model with figures beside the running one,
which runs only once a coordinator publishes it."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tongpin.intake.app import create_app as create_intake
from tongpin.intake.settings import IntakeSettings
from tongpin.shared.testing.services import eventually, running
from tongpin.triage.app import create_app as create_triage
from tongpin.triage.evaluate import EVAL_DIR
from tongpin.triage.retrain import RetrainError, propose
from tongpin.triage.settings import TriageSettings

pytestmark = pytest.mark.e2e

TEXTS = ("请问住房公积金怎么提取？租房能不能提", "想去学个心理学的课，局里能不能给报销一部分学费")


async def test_overrides_become_a_proposed_model_that_runs_once_published(
    settings_env, clean_run, signing_key, tmp_path: Path
):
    # A quarter of the corpus and one seen evaluation set keep the run short; the steps are the real ones.
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join((EVAL_DIR / "labelled.jsonl").read_text(encoding="utf-8").splitlines(True)[::4]),
                      encoding="utf-8")
    blind = tmp_path / "blind"
    blind.mkdir()
    (blind / "seen_round1.jsonl").write_text((EVAL_DIR / "heldout_round1.jsonl").read_text(encoding="utf-8"),
                                             encoding="utf-8")
    coordinator = signing_key.headers("centre_coordinator", sub="coord-retrain")
    async with running(create_triage(TriageSettings(**settings_env("triage")))) as triage, \
            running(create_intake(IntakeSettings(**settings_env("intake")))) as intake:
        await intake.post("/channels", headers=signing_key.headers("admin"), json={
            "id": "officers-rt", "kind": "officers", "name": "民警群", "external_group_id": f"g-{uuid.uuid4().hex}"})
        triage.headers.update(coordinator)
        intake.headers.update(coordinator)
        with pytest.raises(RetrainError, match="no corrections"):
            await propose(triage=triage, intake=intake, corpus=[corpus], corrections_out=None, blind_dir=blind)

        corrected: dict[str, str] = {}
        for text in TEXTS:
            posted = await intake.post("/messages", headers=signing_key.headers("system"), json={
                "channel_id": "officers-rt", "source_message_id": f"rt-{uuid.uuid4().hex}", "anonymous": True,
                "text": text, "sent_at": datetime.now(UTC).isoformat()})
            concern_id = posted.json()["id"]

            async def decided(concern_id: str = concern_id) -> dict | None:
                response = await triage.get(f"/decisions/{concern_id}")
                return response.json() if response.status_code == 200 else None

            decision = await eventually(decided, timeout=20)
            # Whatever triage said, the staff member says otherwise: that is what a correction is.
            category = "suggestion" if decision["category"] != "suggestion" else "career"
            corrected[text] = category
            overridden = await triage.post(f"/decisions/{concern_id}/overrides", json={
                "category": category, "reason": "人工复核：按实际诉求改类", "version": decision["version"]})
            assert overridden.status_code == 200, overridden.text

        kept = tmp_path / "corrections.jsonl"
        result = await propose(triage=triage, intake=intake, corpus=[corpus], corrections_out=kept, blind_dir=blind)
        assert result["corrections"] == 2 and result["current_version"] == 1
        learned = [json.loads(line) for line in kept.read_text(encoding="utf-8").splitlines()]
        assert {row["text"]: row["category"] for row in learned} == corrected
        pair = result["figures"]["seen_round1"]
        assert pair["current"]["n"] == pair["proposed"]["n"] > 0

        version = result["proposed_version"]
        stored = (await triage.get(f"/models/{version}")).json()
        assert stored["status"] == "draft" and not stored["running"]
        assert stored["figures"]["seen_round1"]["proposed"]["macro_f1"] == pair["proposed"]["macro_f1"]
        assert (await triage.get("/models/current")).json()["version"] == 1, "nothing runs by itself"
        published = await triage.post(f"/models/{version}/publish")
        assert published.status_code == 200 and published.json()["running_version"] == version
