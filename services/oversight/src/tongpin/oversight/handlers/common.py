"""What the handler rooms and the appender share: "not yet", and the facts a stored thread counts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tongpin.oversight.domain import threads


class NotYet(RuntimeError):
    """An event about a subject oversight has not seen yet; the consumer retries it later."""


def facts(doc: Mapping[str, Any] | None) -> dict[threads.Fact, int]:
    """What a stored thread counts, as facts."""
    return {(str(f["month"]), str(f["unit"]), str(f["path"])): int(f["amount"])
            for f in (doc or {}).get("counted") or []}
