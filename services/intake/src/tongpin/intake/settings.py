from __future__ import annotations

from tongpin.shared.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    """Intake's settings (environment variables prefixed TONGPIN_)."""

    service_name: str = "intake"
    port: int = 8101
