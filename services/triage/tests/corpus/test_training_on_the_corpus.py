"""Training runs on the labelled corpus: reproducible bytes, and the cross-validated line.

These train real models on most of the corpus (tens of seconds), so they are in the corpus tier of `make test`,
timed on its own line, rather than the unit tier.
"""

from __future__ import annotations

import pytest

from tongpin.triage.domain import default_ruleset
from tongpin.triage.evaluate import EVAL_DIR, load_records
from tongpin.triage.train import Options, cross_validate, load_examples, train

pytestmark = pytest.mark.model


def test_same_corpus_and_seed_give_the_same_model_bytes() -> None:
    examples = load_examples([EVAL_DIR / "labelled.jsonl"])[::4]
    first = train(examples).model.to_bytes()
    assert train(examples).model.to_bytes() == first
    assert train(examples, options=Options(seed=7)).model.to_bytes() != first


def test_cross_validated_line_on_the_corpus() -> None:
    report = cross_validate(load_records(EVAL_DIR / "labelled.jsonl"), default_ruleset(), options=Options(folds=3))
    assert report.crisis_recall >= 0.90
    assert report.crisis_precision >= 0.40
    assert report.macro_f1 >= 0.78
    assert report.chatter_recall >= 0.80
