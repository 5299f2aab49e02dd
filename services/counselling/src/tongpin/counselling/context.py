"""What counselling's handlers are given, built once from settings when the app is created."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher
from pymongo.asynchronous.database import AsyncDatabase

from tongpin.counselling.domain.identity import LoginThrottle, TokenIssuer, generate_signing_key
from tongpin.counselling.domain.sealed import KeyRing
from tongpin.counselling.domain.sla import Targets, targets_from_setting
from tongpin.counselling.repository import (
    BreakGlassRepository,
    BroadcastRepository,
    CaseRepository,
    DocumentLocks,
    NoteRepository,
    NotificationRepository,
    StaffRepository,
)
from tongpin.counselling.settings import CounsellingSettings
from tongpin.shared.logging import get_logger

log = get_logger(__name__)


@dataclass(kw_only=True)
class CounsellingContext:
    """Repositories, keys and policies, wired once."""

    settings: CounsellingSettings
    locks: DocumentLocks
    cases: CaseRepository
    staff: StaffRepository
    notes: NoteRepository
    feed: NotificationRepository
    broadcasts: BroadcastRepository
    glass: BreakGlassRepository
    issuer: TokenIssuer
    hasher: PasswordHasher
    throttle: LoginThrottle
    keyring: KeyRing | None
    targets: Targets

    @property
    def webhook(self) -> bool:
        """Whether notifications also go to the outbound webhook."""
        return bool(self.settings.notification_webhook_url)

    @property
    def reminder_lead(self) -> timedelta:
        return timedelta(minutes=self.settings.talk_reminder_minutes)


def build_issuer(settings: CounsellingSettings) -> TokenIssuer:
    """The token signer from settings; without a configured key, a throwaway one (tokens die with the process)."""
    pem = settings.signing_key_pem()
    kid = settings.jwt_key_id
    if pem is None:
        log.warning("auth.ephemeral_signing_key", detail="TONGPIN_JWT_PRIVATE_KEY_PEM is not set")
        pem, kid = generate_signing_key(), f"ephemeral-{uuid.uuid4().hex[:8]}"
    return TokenIssuer(private_key_pem=pem, kid=kid, issuer=settings.jwt_issuer, audience=settings.jwt_audience,
                       ttl=settings.token_ttl_seconds)


def build_keyring(settings: CounsellingSettings) -> KeyRing | None:
    """The sealed-note key ring, or None when no keys are configured (notes are then refused)."""
    entries, first_is_current = settings.sealed_key_entries()
    if not entries:
        log.warning("notes.no_keys", detail="TONGPIN_SEALED_NOTE_KEYS is not set; sealed notes are refused")
        return None
    current = settings.sealed_note_current_kid
    if current is None and first_is_current:
        current = entries.split(",")[0].partition(":")[0].strip()
    return KeyRing.from_setting(entries, current=current)


def build_context(settings: CounsellingSettings, database: AsyncDatabase[Any]) -> CounsellingContext:
    """Everything the handlers need, from settings and the service's database."""
    locks = DocumentLocks()
    return CounsellingContext(
        settings=settings, locks=locks,
        cases=CaseRepository(database, locks=locks), staff=StaffRepository(database),
        notes=NoteRepository(database),
        feed=NotificationRepository(database), broadcasts=BroadcastRepository(database),
        glass=BreakGlassRepository(database),
        issuer=build_issuer(settings),
        hasher=PasswordHasher(time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib,
                              parallelism=settings.argon2_parallelism),
        throttle=LoginThrottle(
            base_delay=timedelta(seconds=settings.login_base_delay_seconds),
            window=timedelta(seconds=settings.login_window_seconds),
            client_max_delay=timedelta(seconds=settings.login_client_max_delay_seconds),
            account_free_failures=settings.login_account_free_failures,
            account_max_delay=timedelta(seconds=settings.login_account_max_delay_seconds),
        ),
        keyring=build_keyring(settings),
        targets=targets_from_setting(settings.sla_targets),
    )
