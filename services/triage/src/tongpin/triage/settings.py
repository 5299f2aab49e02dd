from __future__ import annotations

from tongpin.shared.settings import ServiceSettings


class TriageSettings(ServiceSettings):
    """Triage's settings (environment variables prefixed TONGPIN_)."""

    service_name: str = "triage"
    port: int = 8102
