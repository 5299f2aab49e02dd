"""Sealed notes: round trip, tamper detection, key rotation and who may read what."""

from __future__ import annotations

import base64

import pytest

from tongpin.counselling.domain.roles import STAFF_ROLES
from tongpin.counselling.domain.sealed import (
    KeyRing,
    KeyRingError,
    NoteTampered,
    UnknownKey,
    author_group_for,
    can_read_note,
)

pytestmark = pytest.mark.unit

KEY1 = base64.b64encode(bytes(range(32))).decode()
KEY2 = base64.b64encode(bytes(range(32, 64))).decode()
NOTE = "来访者情绪低落，提到「不想活了」😔 — follow up 周三 <b>"
BINDING = {"note_id": "note-1", "case_id": "case-1", "author_group": "psychologist"}


def ring(current: str = "k2") -> KeyRing:
    return KeyRing.from_setting(f"k1:{KEY1}, k2:{KEY2}", current=current)


def flip_last_byte(value: str) -> str:
    raw = bytearray(base64.b64decode(value))
    raw[-1] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def test_round_trip_keeps_text_exactly() -> None:
    sealed = ring().encrypt(plaintext=NOTE, **BINDING)  # type: ignore[arg-type]
    assert set(sealed) == {"kid", "nonce", "ciphertext"}
    assert sealed["kid"] == "k2"
    assert len(base64.b64decode(sealed["nonce"])) == 12
    assert NOTE not in sealed["ciphertext"]
    assert ring().decrypt(sealed=sealed, **BINDING) == NOTE


def test_each_sealing_uses_a_fresh_nonce() -> None:
    first = ring().encrypt(plaintext=NOTE, **BINDING)  # type: ignore[arg-type]
    second = ring().encrypt(plaintext=NOTE, **BINDING)  # type: ignore[arg-type]
    assert first["nonce"] != second["nonce"]
    assert first["ciphertext"] != second["ciphertext"]


@pytest.mark.parametrize("part", ["ciphertext", "nonce"])
def test_altered_ciphertext_or_nonce_fails(part: str) -> None:
    sealed = ring().encrypt(plaintext=NOTE, **BINDING)  # type: ignore[arg-type]
    with pytest.raises(NoteTampered):
        ring().decrypt(sealed={**sealed, part: flip_last_byte(sealed[part])}, **BINDING)


@pytest.mark.parametrize(
    "changed",
    [{"note_id": "note-2"}, {"case_id": "case-2"}, {"author_group": "political_worker"}],
)
def test_a_note_moved_to_another_binding_fails(changed: dict[str, str]) -> None:
    sealed = ring().encrypt(plaintext=NOTE, **BINDING)  # type: ignore[arg-type]
    with pytest.raises(NoteTampered):
        ring().decrypt(sealed=sealed, **{**BINDING, **changed})


@pytest.mark.parametrize(
    "sealed",
    [
        {"kid": "k2"},
        {"kid": "k2", "nonce": "!!!", "ciphertext": "AAAA"},
        {"kid": "k2", "nonce": "AAAA", "ciphertext": ""},
    ],
)
def test_malformed_sealed_notes_fail_cleanly(sealed: dict[str, str]) -> None:
    with pytest.raises(NoteTampered):
        ring().decrypt(sealed=sealed, **BINDING)


def test_rotation_keeps_old_notes_readable_and_rewraps_to_the_current_key() -> None:
    old = ring(current="k1").encrypt(plaintext=NOTE, **BINDING)  # type: ignore[arg-type]
    assert old["kid"] == "k1"
    rotated = ring(current="k2")
    assert rotated.decrypt(sealed=old, **BINDING) == NOTE
    assert rotated.needs_rewrap(old)
    new = rotated.rewrap(sealed=old, **BINDING)  # type: ignore[arg-type]
    assert new["kid"] == "k2"
    assert not rotated.needs_rewrap(new)
    # Once k1 is retired from the setting, only the rewrapped copy opens.
    retired = KeyRing.from_setting(f"k2:{KEY2}")
    assert retired.decrypt(sealed=new, **BINDING) == NOTE
    with pytest.raises(UnknownKey):
        retired.decrypt(sealed=old, **BINDING)


def test_rewrap_refuses_a_tampered_note() -> None:
    sealed = ring(current="k1").encrypt(plaintext=NOTE, **BINDING)  # type: ignore[arg-type]
    with pytest.raises(NoteTampered):
        ring().rewrap(sealed={**sealed, "ciphertext": flip_last_byte(sealed["ciphertext"])}, **BINDING)  # type: ignore[arg-type]


def test_setting_defaults_to_the_last_key_and_reports_bad_input() -> None:
    assert KeyRing.from_setting(f"k1:{KEY1},k2:{KEY2}").current_kid == "k2"
    assert KeyRing.from_setting(f"k1:{KEY1},k2:{KEY2}").kids == ("k1", "k2")
    assert len(base64.b64decode(KeyRing.generate_key())) == 32
    for bad in ["", "k1", f"k1:{KEY1},k1:{KEY2}", "k1:not base64!", "k1:" + base64.b64encode(b"short").decode(),
                f"bad kid:{KEY1}"]:
        with pytest.raises(KeyRingError):
            KeyRing.from_setting(bad)
    with pytest.raises(KeyRingError, match="current"):
        KeyRing.from_setting(f"k1:{KEY1}", current="k9")


# reader role -> may read (psychologist note, political-worker note)
ACCESS = {
    "psychologist": (True, False),
    "political_worker": (False, True),
    "centre_coordinator": (False, True),
    "committee_member": (False, False),
    "auditor": (False, False),
    "admin": (False, False),
    "system": (False, False),
}


def test_access_table_covers_every_staff_role() -> None:
    assert set(STAFF_ROLES) <= set(ACCESS)


@pytest.mark.parametrize(("role", "expected"), ACCESS.items())
def test_access_policy(role: str, expected: tuple[bool, bool]) -> None:
    assert (
        can_read_note(reader_roles=[role], note_author_group="psychologist"),
        can_read_note(reader_roles=[role], note_author_group="political_worker"),
    ) == expected


def test_access_with_several_roles_and_unknown_groups() -> None:
    assert can_read_note(reader_roles=["admin", "psychologist"], note_author_group="psychologist")
    assert not can_read_note(reader_roles=["admin", "auditor", "committee_member"], note_author_group="psychologist")
    assert not can_read_note(reader_roles=[], note_author_group="political_worker")
    assert not can_read_note(reader_roles=["psychologist"], note_author_group="admin")


def test_author_group_for() -> None:
    assert author_group_for(["psychologist"]) == "psychologist"
    assert author_group_for(["political_worker"]) == "political_worker"
    assert author_group_for(["centre_coordinator"]) == "political_worker"
    # Both roles: the narrower readership wins.
    assert author_group_for(["political_worker", "psychologist"]) == "psychologist"
    for role in ("committee_member", "auditor", "admin", "system"):
        assert author_group_for([role]) is None
