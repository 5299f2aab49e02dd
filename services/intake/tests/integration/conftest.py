from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tongpin.intake.settings import IntakeSettings
from tongpin.intake.testing import PEPPER


@pytest.fixture
def intake_settings(settings_env) -> Callable[..., IntakeSettings]:
    def make(**overrides: Any) -> IntakeSettings:
        values = settings_env("intake", receipt_pepper=PEPPER, delivery_poll_seconds=0.1,
                              delivery_backoff_seconds=[0.2, 0.2, 0.2], delivery_max_attempts=10)
        values.update(overrides)
        return IntakeSettings(**values)

    return make


