from __future__ import annotations

from pydantic import Field

from tongpin.shared.settings import ServiceSettings


class OversightSettings(ServiceSettings):
    """Oversight's settings (environment variables prefixed TONGPIN_)."""

    service_name: str = "oversight"
    port: int = 8104
    # Deliveries gather while the appender writes a batch; they reach it in the order the broker holds
    # them, so an event about a case does not overtake the event that opened it (a late one is retried).
    prefetch: int = Field(default=256, ge=1, le=2000)
    # The most events the appender records in one batch (TONGPIN_MAX_BATCH).
    max_batch: int = Field(default=200, ge=1, le=1000)
    # How long the appender lets events gather before it writes a batch that is not full: a concern brings
    # several events within moments, and each batch costs the same few writes however few it holds.
    batch_linger_seconds: float = Field(default=0.1, ge=0, le=5)
    # Breakdown cells counting 1..threshold-1 are hidden (TONGPIN_SUPPRESSION_THRESHOLD).
    suppression_threshold: int = Field(default=3, ge=1, le=100)
    # How often the background loop makes sure yesterday's ledger digest is stored.
    digest_every_seconds: float = Field(default=3600.0, gt=0)
