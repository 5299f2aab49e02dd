from __future__ import annotations

from pathlib import Path

from tongpin.shared.settings import ServiceSettings
from tongpin.triage.judgments import PACKAGED_MODEL


class TriageSettings(ServiceSettings):
    """Triage's settings (environment variables prefixed TONGPIN_)."""

    service_name: str = "triage"
    port: int = 8102
    # Concerns about the same officer within this many seconds of the cluster's latest one join it.
    cluster_window_seconds: float = 7 * 24 * 3600
    # A category rising across this many distinct officers of one unit within the window is a theme.
    theme_window_seconds: float = 14 * 24 * 3600
    theme_min_officers: int = 3
    # The model built at install; stored as a version at start-up (a staff-published model keeps running).
    model_path: Path = PACKAGED_MODEL
