"""Triage classification speed on one core: the rules alone, the model alone, and the judgment (both
combined, with explanations), over every message of the labelled corpus.

CPU time of this process is measured (not wall time), best of several passes, so other work on the
machine inflates the figure less; the load average is reported beside it all the same. The target is
2,000 messages/s for the judgment with the model.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from tongpin.triage.domain import classify, default_ruleset, warm_up
from tongpin.triage.domain.judgment import judge
from tongpin.triage.domain.model import features
from tongpin.triage.evaluate import EVAL_DIR, load_model, load_records
from tongpin.triage.train import PACKAGED

TARGET = 2000


def _rate(fn: Callable[[str, str], Any], messages: list[tuple[str, str]], passes: int) -> int:
    best = 0.0
    for _ in range(passes):
        started = time.process_time()
        for text, channel in messages:
            fn(text, channel)
        elapsed = time.process_time() - started
        best = max(best, len(messages) / elapsed if elapsed > 0 else 0.0)
    return round(best)


def classification(passes: int = 5) -> dict[str, Any]:
    """Messages per second (one core, CPU time, best of ``passes``) for the rules, the model and the judgment."""
    ruleset, model = default_ruleset(), load_model(PACKAGED)
    assert model is not None
    warm_up()
    messages = [(str(r["text"]), str(r["channel_kind"])) for r in load_records(EVAL_DIR / "labelled.jsonl")]
    judge(messages[0][0], messages[0][1], ruleset, model)  # caches warm
    load_before = os.getloadavg()[0]
    result = {
        "messages": len(messages),
        "rules_per_s": _rate(lambda t, c: classify(t, c, ruleset), messages, passes),
        "model_per_s": _rate(lambda t, c: model.predict(features(t, c)), messages, passes),
        "judgment_per_s": _rate(lambda t, c: judge(t, c, ruleset, model), messages, passes),
        "target_per_s": TARGET,
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    result["meets_target"] = result["judgment_per_s"] >= TARGET
    return result


if __name__ == "__main__":
    figures = classification()
    print(figures)
