"""Duration histograms: bucket choice and quantiles checked against hand-computed values."""

from __future__ import annotations

import math

import pytest

from tongpin.oversight.domain import histogram
from tongpin.oversight.domain.histogram import BUCKET_KEYS, OVERFLOW_KEY, bucket_for, median, merge, p90, quantile

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("seconds", "key"),
    [
        (-30, "le_1m"), (0, "le_1m"), (60, "le_1m"), (61, "le_2m"), (299, "le_5m"), (300, "le_5m"),
        (301, "le_10m"), (3600, "le_60m"), (86400, "le_1440m"), (43200 * 60, "le_43200m"),
        (43200 * 60 + 1, OVERFLOW_KEY), (10**9, "gt_43200m"),
    ],
)
def test_bucket_for(seconds: float, key: str) -> None:
    assert bucket_for(seconds) == key


def test_keys_are_field_name_safe_and_ordered() -> None:
    assert len(BUCKET_KEYS) == 19
    assert all("." not in k and not k.startswith("$") for k in BUCKET_KEYS)
    bounds = [histogram.upper_bound_seconds(k) for k in BUCKET_KEYS]
    assert bounds == sorted(bounds) and bounds[-1] == math.inf


def test_quantiles_hand_computed() -> None:
    # 10 values: 2 within 5 min, 3 within 30 min, 5 within 2 h.
    counts = {"le_5m": 2, "le_30m": 3, "le_120m": 5}
    assert median(counts) == 1800.0  # rank 5 -> the 5th value is in le_30m
    assert p90(counts) == 7200.0  # rank 9 -> le_120m
    assert quantile(counts, q=0.2) == 300.0  # rank 2 -> le_5m
    assert quantile(counts, q=0.21) == 1800.0  # rank 3 -> le_30m
    assert quantile(counts, q=0.0) == 300.0
    assert quantile(counts, q=1.0) == 7200.0


def test_even_count_median_is_the_lower_one_and_overflow_is_inf() -> None:
    counts = {"le_60m": 1, "le_4320m": 1, OVERFLOW_KEY: 2}
    assert median(counts) == 4320 * 60
    assert p90(counts) == math.inf


def test_empty_and_bad_q() -> None:
    assert median({}) is None
    assert p90({"le_5m": 0}) is None
    with pytest.raises(ValueError):
        quantile({"le_5m": 1}, q=1.5)


def test_merge_sums_and_drops_unknown_keys() -> None:
    merged = merge([{"le_5m": 2, "le_30m": 1}, {"le_5m": 3, "bogus": 7}, {}])
    assert merged == {"le_5m": 5, "le_30m": 1}
    assert list(merged) == ["le_5m", "le_30m"]
