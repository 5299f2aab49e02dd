"""Intake's repositories on an in-memory database; the business clock comes from shared fixtures."""

from __future__ import annotations

import pytest

from tongpin.intake.memory import IntakeStores, in_memory


@pytest.fixture
def stores() -> IntakeStores:
    return in_memory()
