from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr

from tongpin.intake.domain.reading import ReadingTargets
from tongpin.shared.events import Id
from tongpin.shared.settings import ServiceSettings


class WeComApp(BaseModel):
    """One WeCom app bound to a channel: callback credentials and the group robot to post into."""

    token: SecretStr
    aes_key: SecretStr
    corp_id: str
    robot_webhook_url: SecretStr | None = None


class IntakeSettings(ServiceSettings):
    """Intake's settings (environment variables prefixed TONGPIN_)."""

    service_name: str = "intake"
    port: int = 8101
    # The unit code of the bureau itself (局机关). Every counted fact names a unit: a concern takes the unit of
    # the officer it is about, else its author's (a family member's: their officer's), else its channel's, else
    # this one; a person's participation counts in their own unit (their officer's), else this one.
    bureau_unit: Id = "bureau"

    # Channel id -> WeCom app, e.g. TONGPIN_WECOM_APPS='{"officers-01": {"token": ..., "aes_key": ..., ...}}'.
    wecom_apps: dict[str, WeComApp] = Field(default_factory=dict)
    # Channel id -> HMAC secret for channels delivered through a generic webhook.
    webhook_secrets: dict[str, SecretStr] = Field(default_factory=dict)
    # Server-side pepper for receipt-code hashes; the public form is closed without it.
    receipt_pepper: SecretStr | None = None

    message_retention_days: int = 365
    retention_interval_seconds: float = 3600.0

    delivery_poll_seconds: float = 1.0
    delivery_backoff_seconds: list[float] = Field(default_factory=lambda: [5.0, 30.0, 120.0, 600.0, 3600.0])
    # Attempts before a delivery is given up (with the last back-off tier, about two days by default).
    delivery_max_attempts: int = 50
    delivery_timeout_seconds: float = 10.0
    delivery_lease_seconds: float = 60.0

    # Public form: submissions per client per window, and for everyone together.
    public_window_seconds: float = 3600.0
    public_per_client_limit: int = 20
    public_overall_limit: int = 2000
    # Wrong receipt codes: after this many from one client it is locked out, doubling each time.
    receipt_free_failures: int = 5
    receipt_lockout_seconds: float = 60.0
    receipt_lockout_max_seconds: float = 86400.0
    # Wrong receipt codes from everyone together per window before all lookups pause (distributed guessing).
    receipt_overall_failure_limit: int = 500
    # Reading targets: crisis candidates, high severity, and everything else (working days, Monday–Friday
    # in the bureau's one time zone, ``bureau_time_zone``). Unread past the target, the on-call staff are told once.
    reading_crisis_minutes: float = 5
    reading_high_minutes: float = 30
    reading_working_days: int = 1
    reading_scan_seconds: float = 30.0

    def reading_targets(self) -> ReadingTargets:
        return ReadingTargets(crisis_minutes=self.reading_crisis_minutes, high_minutes=self.reading_high_minutes,
                              working_days=self.reading_working_days, timezone=self.bureau_time_zone)
