"""Triage's repositories on an in-memory database; the business clock comes from shared fixtures."""

from __future__ import annotations

import pytest

from tongpin.triage.memory import TriageStores, in_memory


@pytest.fixture
def stores() -> TriageStores:
    return in_memory()
