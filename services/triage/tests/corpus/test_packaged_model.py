"""The packaged model (built at install from the labelled corpus) holds its line on that corpus.

Classifying the whole corpus with the model takes seconds, so this is in the corpus tier of `make test`.
"""

from __future__ import annotations

import pytest

from tongpin.triage.domain import default_ruleset
from tongpin.triage.evaluate import EVAL_DIR, evaluate, load_model, load_records
from tongpin.triage.train import PACKAGED

pytestmark = pytest.mark.model


def test_packaged_model_learned_its_corpus() -> None:
    assert PACKAGED.exists(), "the packaged model is built at install: run `python -m tongpin.triage.train`"
    model = load_model(PACKAGED)
    report = evaluate(load_records(EVAL_DIR / "labelled.jsonl"), default_ruleset(), model)
    assert report.crisis_recall >= 0.99
    assert report.macro_f1 >= 0.95
    assert report.chatter_recall >= 0.95 and report.wrongly_dismissed <= 5
