"""Triage's repositories on an in-memory database, and a business clock that stands still."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tongpin.shared import clock
from tongpin.triage.memory import TriageStores, in_memory


@pytest.fixture
def stores() -> TriageStores:
    return in_memory()


@pytest.fixture
def business_clock() -> Iterator[clock.SimulatedClock]:
    simulated = clock.SimulatedClock(datetime(2026, 3, 9, 9, 30, tzinfo=UTC))
    with clock.using(simulated):
        yield simulated
