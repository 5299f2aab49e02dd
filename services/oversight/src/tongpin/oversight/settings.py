from __future__ import annotations

from pydantic import Field

from tongpin.shared.settings import ServiceSettings


class OversightSettings(ServiceSettings):
    """Oversight's settings (environment variables prefixed TONGPIN_)."""

    service_name: str = "oversight"
    port: int = 8104
    # One event at a time, in the order the broker holds them: an event about a case then never
    # overtakes the event that opened it (the ledger serialises appends anyway).
    prefetch: int = 1
    # Breakdown cells counting 1..threshold-1 are hidden (TONGPIN_SUPPRESSION_THRESHOLD).
    suppression_threshold: int = Field(default=3, ge=1, le=100)
    # How often the background loop makes sure yesterday's ledger digest is stored.
    digest_every_seconds: float = Field(default=3600.0, gt=0)
