"""Training: reproducible bytes, a threshold chosen for recall, and the cross-validated line on the corpus."""

from __future__ import annotations

import numpy as np
import pytest

from tongpin.triage.domain import default_ruleset
from tongpin.triage.evaluate import EVAL_DIR, load_records
from tongpin.triage.train import Options, cross_validate, load_examples, pick_threshold, train

pytestmark = pytest.mark.model


def test_same_corpus_and_seed_give_the_same_model_bytes() -> None:
    examples = load_examples([EVAL_DIR / "labelled.jsonl"])[::4]
    first = train(examples).model.to_bytes()
    assert train(examples).model.to_bytes() == first
    assert train(examples, options=Options(seed=7)).model.to_bytes() != first


def test_threshold_keeps_the_combined_recall() -> None:
    probabilities = np.array([0.9, 0.8, 0.3, 0.05, 0.6, 0.01])
    labels = np.array([1, 1, 1, 1, 0, 0])
    # The rules already catch the fourth crisis: the model must reach three of the other three.
    caught = np.array([0, 0, 0, 1, 0, 0])
    threshold = pick_threshold(probabilities, labels, recall=1.0, caught=caught)
    assert 0.29 < threshold < 0.3
    assert pick_threshold(probabilities, labels, recall=0.75, caught=caught) > 0.79


def test_cross_validated_line_on_the_corpus() -> None:
    report = cross_validate(load_records(EVAL_DIR / "labelled.jsonl"), default_ruleset(), options=Options(folds=3))
    assert report.crisis_recall >= 0.90
    assert report.crisis_precision >= 0.40
    assert report.macro_f1 >= 0.78
    assert report.chatter_recall >= 0.80
