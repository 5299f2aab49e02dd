"""Staff corrections teach triage: ``python -m tongpin.triage.retrain --triage URL --intake URL``.

Run by a centre coordinator (or an admin with a coordinator beside them), never by itself:

1. reads every override from triage (``/overrides/export``) and, for each corrected concern, the decision
   as it now stands (the labels after the override) and the text from intake (``/messages/{id}``);
2. trains a model on the labelled corpus plus these corrections (a correction wins over a corpus line
   with the same text);
3. scores the running model and the proposed one on every blind set, side by side;
4. proposes the new model to triage as a draft (``POST /models``) with those figures.

Triage runs it only when a coordinator publishes it (``POST /models/{version}/publish``); they may
discard it instead. The token is read from ``TONGPIN_TOKEN`` (a coordinator's bearer token) and never
printed. ``--corrections-out`` keeps the corrections (with their text) in a file for the record.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from tongpin.triage.domain import default_ruleset
from tongpin.triage.domain.model import Model, checksum
from tongpin.triage.evaluate import BLIND_DIR, EVAL_DIR, evaluate, figures, load_records
from tongpin.triage.train import CorpusError, Example, load_examples, train


class RetrainError(RuntimeError):
    """A step that could not be done (a service refused, nothing to learn from); nothing was proposed."""


def _checked(response: httpx.Response, what: str) -> Any:
    if response.status_code != 200:
        raise RetrainError(f"{what}: {response.status_code} {response.text[:300]}")
    return response.json() if "json" in response.headers.get("content-type", "") else response.content


async def collect_corrections(*, triage: httpx.AsyncClient, intake: httpx.AsyncClient) -> list[Example]:
    """Every concern staff corrected, with its text and the labels it has after the corrections."""
    rows = _checked(await triage.get("/overrides/export", params={"format": "json"}), "reading the overrides")
    examples: list[Example] = []
    for concern_id in dict.fromkeys(row["concern_id"] for row in rows):
        decision = _checked(await triage.get(f"/decisions/{concern_id}"), f"reading decision {concern_id}")
        message = await intake.get(f"/messages/{concern_id}")
        if message.status_code == 404:
            continue
        text = _checked(message, f"reading message {concern_id}").get("text")
        if not text:
            continue  # retention removed it: nothing to learn from
        examples.append(Example(
            text=text, channel_kind=decision["channel_kind"], category=decision["category"],
            flags=tuple(decision.get("flags", [])), crisis=bool(decision["crisis"]),
            dismissed=bool(decision.get("dismissed")) and decision["category"] == "other",
        ))
    return examples


def merge(corpus: Sequence[Example], corrections: Sequence[Example]) -> list[Example]:
    """The corpus with the corrections added; a correction replaces a corpus line with the same text."""
    corrected = {(e.text, e.channel_kind) for e in corrections}
    return [e for e in corpus if (e.text, e.channel_kind) not in corrected] + list(corrections)


def side_by_side(current: Model | None, proposed: Model, *, blind_dir: Path = BLIND_DIR) -> dict[str, Any]:
    """Figures of the running and the proposed model on every blind set (and nothing else is read)."""
    ruleset = default_ruleset()
    out: dict[str, Any] = {}
    for path in sorted(blind_dir.glob("*.jsonl")):
        records = load_records(path)
        out[path.stem] = {
            "current": figures(evaluate(records, ruleset, current)) if current is not None else None,
            "proposed": figures(evaluate(records, ruleset, proposed)),
        }
    return out


async def propose(
    *, triage: httpx.AsyncClient, intake: httpx.AsyncClient, corpus: Sequence[Path], corrections_out: Path | None,
    blind_dir: Path = BLIND_DIR, upload: bool = True,
) -> dict[str, Any]:
    """Learn from the corrections and propose the result as a draft model; returns what was proposed."""
    corrections = await collect_corrections(triage=triage, intake=intake)
    if not corrections:
        raise RetrainError("there are no corrections with text to learn from; nothing proposed")
    if corrections_out is not None:
        lines = "".join(json.dumps({
            "text": e.text, "channel_kind": e.channel_kind, "category": e.category, "flags": list(e.flags),
            "crisis": e.crisis, "dismissed": e.dismissed}, ensure_ascii=False) + "\n" for e in corrections)
        await asyncio.to_thread(corrections_out.write_text, lines, encoding="utf-8")
    current_doc = _checked(await triage.get("/models/current"), "reading the running model")
    blob = _checked(await triage.get(f"/models/{current_doc['version']}/blob"), "downloading the running model")
    current = Model.from_bytes(blob, expected_checksum=current_doc["sha256"])
    examples = merge(await asyncio.to_thread(load_examples, list(corpus)), corrections)
    trained = await asyncio.to_thread(train, examples, name="人工纠正后重新训练")
    proposed_blob = trained.model.to_bytes()
    result = {
        "corrections": len(corrections), "trained_on": trained.model.meta["trained_on"],
        "current_version": current_doc["version"], "sha256": checksum(proposed_blob),
        "figures": side_by_side(current, trained.model, blind_dir=blind_dir),
    }
    if upload:
        response = await triage.post("/models", json={
            "blob": base64.b64encode(proposed_blob).decode(), "sha256": result["sha256"],
            "figures": result["figures"],
            "note": f"由 {len(corrections)} 条人工纠正与语料共同训练；当前运行版本 m{current_doc['version']}",
        })
        if response.status_code != 201:
            raise RetrainError(f"proposing the model: {response.status_code} {response.text[:300]}")
        result["proposed_version"] = response.json()["version"]
    return result


def _format(result: dict[str, Any]) -> str:
    lines = [f"corrections learned: {result['corrections']}; trained on {result['trained_on']} messages",
             f"{'set':<10}{'':>10}{'macro-F1':>10}{'crisis R':>10}{'crisis P':>10}{'chatter':>10}"]
    for name, pair in result["figures"].items():
        for which in ("current", "proposed"):
            row = pair[which]
            if row is None:
                continue
            lines.append(f"{name:<10}{which:>10}{row['macro_f1']:>10.3f}{row['crisis_recall']:>10.3f}"
                         f"{row['crisis_precision']:>10.3f}{row['chatter_dismissed']:>10.3f}")
    if "proposed_version" in result:
        lines.append(f"proposed as model version {result['proposed_version']} (a draft: a coordinator publishes "
                     f"or discards it with POST /models/{result['proposed_version']}/publish or /discard)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Retrain triage's model from staff corrections and propose it.")
    parser.add_argument("--triage", required=True, help="triage's base URL, e.g. http://127.0.0.1:8080/api/triage")
    parser.add_argument("--intake", required=True, help="intake's base URL, e.g. http://127.0.0.1:8080/api/intake")
    parser.add_argument("--corpus", type=Path, action="append", help="labelled corpus (default: eval/labelled.jsonl)")
    parser.add_argument("--corrections-out", type=Path, help="write the corrections learned (with text) here")
    parser.add_argument("--dry-run", action="store_true", help="train and score, but propose nothing")
    args = parser.parse_args(argv)
    token = os.environ.get("TONGPIN_TOKEN")
    if not token:
        print("set TONGPIN_TOKEN to a centre coordinator's bearer token", file=sys.stderr)
        return 2
    headers = {"Authorization": f"Bearer {token}"}

    async def run() -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=args.triage, headers=headers, timeout=60) as triage, \
                httpx.AsyncClient(base_url=args.intake, headers=headers, timeout=60) as intake:
            return await propose(triage=triage, intake=intake, corpus=args.corpus or [EVAL_DIR / "labelled.jsonl"],
                                 corrections_out=args.corrections_out, upload=not args.dry_run)

    try:
        result = asyncio.run(run())
    except CorpusError as exc:
        for source, line, reason in exc.errors:
            print(f"{source}:{line}: {reason}", file=sys.stderr)
        print(f"retraining stopped: {len(exc.errors)} problem(s) in the corpus; nothing proposed", file=sys.stderr)
        return 2
    except RetrainError as exc:
        print(f"retraining stopped: {exc}", file=sys.stderr)
        return 1
    print(_format(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
