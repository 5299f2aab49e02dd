"""Typed settings, read once at the edge (environment variables or a .env file) and passed inward."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from opentelemetry.sdk.trace.export import SpanExporter
from pydantic import AliasChoices, Field, InstanceOf, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """What every Tongpin service needs to run; each service subclasses it with its own fields."""

    model_config = SettingsConfigDict(env_prefix="TONGPIN_", env_file=".env", extra="ignore")

    service_name: str = "tongpin"
    host: str = "127.0.0.1"
    port: int = 8100

    mongodb_url: SecretStr = Field(
        default=SecretStr("mongodb://127.0.0.1:27017/"),
        validation_alias=AliasChoices("MONGODB_URL", "TONGPIN_MONGODB_URL"),
    )
    # Each service owns its own database; default name is tongpin_<service>.
    mongodb_database: str | None = None
    amqp_url: SecretStr = Field(
        default=SecretStr("amqp://guest:guest@127.0.0.1:5672/"),
        validation_alias=AliasChoices("AMQP_URL", "TONGPIN_AMQP_URL"),
    )
    exchange: str = "tongpin.events"
    # Prefix for queue names; lets several test runs share one broker without sharing queues.
    queue_prefix: str = ""
    # Delays (seconds) of the retry tiers a failing message walks through before it is dead-lettered.
    retry_delays: list[float] = [1.0, 5.0, 30.0]
    # Deliveries RabbitMQ allows before a message that crashes its consumer is dead-lettered.
    delivery_limit: int = 10
    prefetch: int = 32
    # Seconds between reconnection attempts after the broker goes away.
    reconnect_seconds: float = 2.0
    # How long a database call waits for a reachable server before it fails: short, so a request
    # during an outage gets a 503 at once instead of hanging (consumers wait out outages themselves).
    mongodb_select_timeout_ms: int = 1500
    # What a 503 during an outage tells the client to wait before trying again.
    retry_after_seconds: int = 5
    outbox_poll_seconds: float = 1.0

    # Reverse proxies (addresses or networks) whose X-Forwarded-For names the client; nobody else's is
    # believed. Empty: the connecting address is the client (a service reached directly).
    trusted_proxies: list[str] = []

    # The bureau's one time zone: every day, month and year a figure is counted in is a date there,
    # for every service and the console alike (which asks oversight for it).
    bureau_time_zone: str = "Asia/Shanghai"
    # Demo and tests only: read business time from this file while it exists (tongpin.shared.clock).
    clock_file: str | None = None

    log_level: str = "INFO"
    log_json: bool = True

    # Traces (tongpin.shared.tracing), off by default: OTLP over HTTP to this URL when set, e.g.
    # http://otel-collector:4318/v1/traces.
    otlp_traces_endpoint: str | None = None
    # In-process only (tests): an OpenTelemetry span exporter that also receives every span. Never from the
    # environment (a string is not an exporter) and never in a dump of the settings.
    span_exporter: InstanceOf[SpanExporter] | None = Field(default=None, exclude=True, repr=False)

    # Bearer tokens: verified against a JWKS document (URL or inline JSON) or a PEM public key.
    jwt_issuer: str = "tongpin-counselling"
    jwt_audience: str = "tongpin"
    jwks_url: str | None = None
    jwks_json: str | None = None
    jwt_public_key_pem: str | None = None
    # Machine clients: "name:key" pairs; a client presenting X-API-Key gets the `system` role.
    api_keys: list[SecretStr] = []

    @field_validator("bureau_time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as Asia/Shanghai)") from exc
        return value

    @property
    def bureau_zone(self) -> ZoneInfo:
        """The bureau's time zone."""
        return ZoneInfo(self.bureau_time_zone)

    @property
    def database_name(self) -> str:
        return self.mongodb_database or f"tongpin_{self.service_name}"
