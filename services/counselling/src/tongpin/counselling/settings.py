from __future__ import annotations

from tongpin.shared.settings import ServiceSettings


class CounsellingSettings(ServiceSettings):
    """Counselling's settings (environment variables prefixed TONGPIN_)."""

    service_name: str = "counselling"
    port: int = 8103
