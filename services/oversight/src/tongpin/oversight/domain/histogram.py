"""Duration histograms with fixed, log-spaced buckets.

FerretDB cannot ``$push`` or ``$avg``, so durations are never stored one by one: each is counted
into a fixed bucket with ``$inc``, and medians and percentiles are read back from the counts.
Bucket keys are field-name safe (no dots, no ``$``) so they can sit at the end of a field path.

Quantiles use the nearest-rank method and report the *upper bound* of the bucket holding that
rank, not an interpolation: "90% of cases had a first response within X" is then never an
understatement. A value in the open-ended last bucket has no upper bound and reads as ``math.inf``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

# Upper bounds in minutes: 1 min .. 30 days, then one open-ended bucket.
BOUNDS_MINUTES: tuple[int, ...] = (
    1, 2, 5, 10, 15, 30, 60, 120, 240, 480, 720, 1440, 2880, 4320, 7200, 10080, 20160, 43200,
)
OVERFLOW_KEY = f"gt_{BOUNDS_MINUTES[-1]}m"
BUCKET_KEYS: tuple[str, ...] = (*(f"le_{m}m" for m in BOUNDS_MINUTES), OVERFLOW_KEY)
_UPPER_SECONDS: dict[str, float] = {
    **{f"le_{m}m": float(m * 60) for m in BOUNDS_MINUTES},
    OVERFLOW_KEY: math.inf,
}


def bucket_for(seconds: float) -> str:
    """The bucket key for a duration in seconds (negative durations from clock skew count as zero)."""
    if math.isnan(seconds):
        raise ValueError("a duration cannot be NaN")
    for minutes in BOUNDS_MINUTES:
        if seconds <= minutes * 60:
            return f"le_{minutes}m"
    return OVERFLOW_KEY


def upper_bound_seconds(key: str) -> float:
    """The inclusive upper bound of a bucket in seconds (``math.inf`` for the last bucket)."""
    return _UPPER_SECONDS[key]


def merge(histograms: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """Sum several histograms bucket by bucket; keys outside the fixed scheme and empty buckets are dropped."""
    summed: dict[str, int] = {}
    for histogram in histograms:
        for key, count in histogram.items():
            if key in _UPPER_SECONDS and isinstance(count, int) and not isinstance(count, bool):
                summed[key] = summed.get(key, 0) + count
    return {key: summed[key] for key in BUCKET_KEYS if summed.get(key)}


def total(counts: Mapping[str, int]) -> int:
    """How many durations a histogram holds (non-positive and unknown buckets ignored)."""
    return sum(max(int(counts.get(key, 0)), 0) for key in BUCKET_KEYS)


def quantile(counts: Mapping[str, int], *, q: float) -> float | None:
    """Upper bound in seconds of the bucket holding the nearest-rank q-th value, or None if empty."""
    if not 0.0 <= q <= 1.0:
        raise ValueError("q must be between 0 and 1")
    n = total(counts)
    if n == 0:
        return None
    rank = max(1, math.ceil(q * n))
    seen = 0
    for key in BUCKET_KEYS:
        seen += max(int(counts.get(key, 0)), 0)
        if seen >= rank:
            return _UPPER_SECONDS[key]
    return math.inf  # unreachable: seen reaches n >= rank


def median(counts: Mapping[str, int]) -> float | None:
    """The median's bucket upper bound in seconds (the lower median for an even count)."""
    return quantile(counts, q=0.5)


def p90(counts: Mapping[str, int]) -> float | None:
    """The 90th percentile's bucket upper bound in seconds."""
    return quantile(counts, q=0.9)
