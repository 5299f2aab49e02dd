from __future__ import annotations

from tongpin.shared.settings import ServiceSettings


class OversightSettings(ServiceSettings):
    """Oversight's settings (environment variables prefixed TONGPIN_)."""

    service_name: str = "oversight"
    port: int = 8104
