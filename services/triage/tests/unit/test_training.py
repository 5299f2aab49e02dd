"""Training: a threshold chosen for recall (the training runs on the corpus are in tests/corpus)."""

from __future__ import annotations

import numpy as np
import pytest

from tongpin.triage.train import pick_threshold

pytestmark = pytest.mark.unit


def test_threshold_keeps_the_combined_recall() -> None:
    probabilities = np.array([0.9, 0.8, 0.3, 0.05, 0.6, 0.01])
    labels = np.array([1, 1, 1, 1, 0, 0])
    # The rules already catch the fourth crisis: the model must reach three of the other three.
    caught = np.array([0, 0, 0, 1, 0, 0])
    threshold = pick_threshold(probabilities, labels, recall=1.0, caught=caught)
    assert 0.29 < threshold < 0.3
    assert pick_threshold(probabilities, labels, recall=0.75, caught=caught) > 0.79
