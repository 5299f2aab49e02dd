"""Counselling's settings (environment variables prefixed TONGPIN_), read once at the edge."""

from __future__ import annotations

import json

from pydantic import SecretStr

from tongpin.shared.settings import ServiceSettings


class CounsellingSettings(ServiceSettings):
    """Counselling's settings (environment variables prefixed TONGPIN_)."""

    service_name: str = "counselling"
    port: int = 8103

    # Staff bearer tokens: the Ed25519 private key (PEM; literal "\n" escapes accepted) and its key id.
    jwt_private_key_pem: SecretStr | None = None
    jwt_key_id: str = "counselling-1"
    token_ttl_seconds: int = 900
    # argon2id cost; the defaults follow RFC 9106's low-memory profile.
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4
    # Login throttle: growing delays (base, 2×base, 4×base …) after failures within the window, for each
    # account and client (capped high), and for the account from every client after its free failures
    # (capped low, so a stranger can slow an account down but never lock its owner out).
    login_base_delay_seconds: float = 1.0
    login_window_seconds: int = 900
    login_client_max_delay_seconds: float = 900.0
    login_account_free_failures: int = 10
    login_account_max_delay_seconds: float = 30.0

    # Sealed notes: "kid:base64key,kid:base64key" (or a JSON list of such entries) and the current kid.
    sealed_note_keys: SecretStr | None = None
    sealed_note_current_kid: str | None = None

    # Time targets per severity, e.g. "critical=15m/3d,high=2h/7d" (unnamed severities keep defaults).
    sla_targets: str = ""
    sla_check_seconds: float = 60.0
    talk_reminder_minutes: int = 60
    reminder_check_seconds: float = 60.0

    # Optional outbound webhook for a bureau's messaging app (HMAC-SHA256 signed with the secret).
    notification_webhook_url: str | None = None
    notification_webhook_secret: SecretStr | None = None
    webhook_check_seconds: float = 5.0

    def signing_key_pem(self) -> str | None:
        """The private key PEM with literal "\\n" escapes (as .env files carry it) turned into newlines."""
        if self.jwt_private_key_pem is None or not self.jwt_private_key_pem.get_secret_value().strip():
            return None
        return self.jwt_private_key_pem.get_secret_value().strip().strip('"').replace("\\n", "\n")

    def sealed_key_entries(self) -> tuple[str, bool]:
        """The key-ring setting as "kid:key,..." and whether it came as a JSON list (first entry current)."""
        if self.sealed_note_keys is None:
            return "", False
        raw = self.sealed_note_keys.get_secret_value().strip()
        if raw.startswith("["):
            return ",".join(str(item) for item in json.loads(raw)), True
        return raw, False
