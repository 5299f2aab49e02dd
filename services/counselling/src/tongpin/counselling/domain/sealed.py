"""Sealed notes: AES-GCM at rest under a rotating key ring, readable only by the author's role group."""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Iterable, Mapping
from typing import Final, Literal, get_args

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

AuthorGroup = Literal["psychologist", "political_worker"]
AUTHOR_GROUPS: Final[tuple[AuthorGroup, ...]] = get_args(AuthorGroup)

# Who may read a note, by the group that wrote it. Nobody else: not admin, auditor or committee.
READERS: Final[Mapping[str, frozenset[str]]] = {
    "psychologist": frozenset({"psychologist"}),
    "political_worker": frozenset({"political_worker", "centre_coordinator"}),
}

_KID_PATTERN: Final = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_NONCE_BYTES: Final = 12
# Versioned so a future change of format cannot be confused with this one.
_AD_LABEL: Final = "tongpin.sealed-note.v1"


class KeyRingError(ValueError):
    """The key-ring setting is malformed."""


class NoteUnreadable(Exception):
    """A sealed note cannot be opened (unknown key, altered ciphertext or wrong binding)."""


class UnknownKey(NoteUnreadable):
    """The note was sealed under a key id the ring does not hold."""


class NoteTampered(NoteUnreadable):
    """Authentication failed: the ciphertext, nonce or associated data were altered."""


def author_group_for(roles: Iterable[str]) -> AuthorGroup | None:
    """The group whose notes this person writes, or None if they may not write notes."""
    roles = set(roles)
    # Someone holding both roles writes under the narrower readership, so nothing leaks wider.
    if "psychologist" in roles:
        return "psychologist"
    if roles & {"political_worker", "centre_coordinator"}:
        return "political_worker"
    return None


def can_read_note(*, reader_roles: Iterable[str], note_author_group: str) -> bool:
    """True when any of the reader's roles may read a note written by that group."""
    readers = READERS.get(note_author_group)
    return readers is not None and not readers.isdisjoint(reader_roles)


def associated_data(*, note_id: str, case_id: str, author_group: str) -> bytes:
    """The bytes each note is bound to, so a ciphertext cannot be moved to another note, case or group."""
    return json.dumps([_AD_LABEL, note_id, case_id, author_group], separators=(",", ":")).encode()


def _b64decode(value: str) -> bytes:
    return base64.b64decode(value.encode("ascii"), validate=True)


class KeyRing:
    """AES-GCM keys by key id; new notes use the current key, old ones stay readable."""

    def __init__(self, *, keys: Mapping[str, bytes], current: str) -> None:
        if not keys:
            raise KeyRingError("the key ring is empty")
        for kid, key in keys.items():
            if not _KID_PATTERN.fullmatch(kid):
                raise KeyRingError(f"key id {kid!r} is not valid")
            if len(key) not in (16, 24, 32):
                raise KeyRingError(f"key {kid} is {len(key)} bytes; AES needs 16, 24 or 32")
        if current not in keys:
            raise KeyRingError(f"current key {current!r} is not in the ring")
        self._keys = dict(keys)
        self.current_kid = current

    @classmethod
    def from_setting(cls, setting: str, *, current: str | None = None) -> KeyRing:
        """Parse "kid1:base64key,kid2:base64key"; the current key defaults to the last one listed."""
        keys: dict[str, bytes] = {}
        for raw in setting.split(","):
            item = raw.strip()
            if not item:
                continue
            kid, sep, encoded = item.partition(":")
            kid = kid.strip()
            if not sep or not kid:
                raise KeyRingError("each entry must read kid:base64key")
            if kid in keys:
                raise KeyRingError(f"key id {kid!r} appears twice")
            try:
                keys[kid] = _b64decode(encoded.strip())
            except (binascii.Error, ValueError):
                raise KeyRingError(f"key {kid} is not valid base64") from None
        if not keys:
            raise KeyRingError("the key ring is empty")
        return cls(keys=keys, current=current if current is not None else list(keys)[-1])

    @staticmethod
    def generate_key() -> str:
        """A fresh 256-bit key, base64-encoded for the setting."""
        return base64.b64encode(AESGCM.generate_key(bit_length=256)).decode("ascii")

    @property
    def kids(self) -> tuple[str, ...]:
        """The key ids held, in setting order."""
        return tuple(self._keys)

    def encrypt(self, *, plaintext: str, note_id: str, case_id: str, author_group: AuthorGroup) -> dict[str, str]:
        """Seal a note under the current key: {kid, nonce, ciphertext}, both base64."""
        nonce = os.urandom(_NONCE_BYTES)
        ad = associated_data(note_id=note_id, case_id=case_id, author_group=author_group)
        ciphertext = AESGCM(self._keys[self.current_kid]).encrypt(nonce, plaintext.encode("utf-8"), ad)
        return {
            "kid": self.current_kid,
            "nonce": base64.b64encode(nonce).decode("ascii"),
            "ciphertext": base64.b64encode(ciphertext).decode("ascii"),
        }

    def decrypt(self, *, sealed: Mapping[str, str], note_id: str, case_id: str, author_group: str) -> str:
        """Open a sealed note with the key it names; NoteUnreadable if anything does not match."""
        kid = sealed.get("kid")
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise UnknownKey(f"no key {kid!r} in the ring")
        try:
            nonce = _b64decode(sealed["nonce"])
            ciphertext = _b64decode(sealed["ciphertext"])
        except (KeyError, TypeError, AttributeError, binascii.Error, ValueError):
            raise NoteTampered("the sealed note is malformed") from None
        if len(nonce) != _NONCE_BYTES:
            raise NoteTampered("the nonce has the wrong length")
        ad = associated_data(note_id=note_id, case_id=case_id, author_group=author_group)
        try:
            return AESGCM(key).decrypt(nonce, ciphertext, ad).decode("utf-8")
        except InvalidTag:
            raise NoteTampered("authentication failed") from None

    def needs_rewrap(self, sealed: Mapping[str, str]) -> bool:
        """True when the note was sealed under a key other than the current one."""
        return sealed.get("kid") != self.current_kid

    def rewrap(
        self, *, sealed: Mapping[str, str], note_id: str, case_id: str, author_group: AuthorGroup
    ) -> dict[str, str]:
        """Re-seal a note under the current key (a fresh nonce), after checking it opens."""
        plaintext = self.decrypt(sealed=sealed, note_id=note_id, case_id=case_id, author_group=author_group)
        return self.encrypt(plaintext=plaintext, note_id=note_id, case_id=case_id, author_group=author_group)
