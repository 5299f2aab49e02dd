"""Settings read at the edge: the signing key as .env files carry it, the sealed-note key ring in both forms."""

from __future__ import annotations

import base64
import json
import os

import pytest

from tongpin.counselling.context import build_issuer, build_keyring
from tongpin.counselling.domain.identity import generate_signing_key
from tongpin.counselling.settings import CounsellingSettings

pytestmark = pytest.mark.unit


def key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_signing_key_with_literal_newline_escapes_is_accepted():
    pem = generate_signing_key()
    escaped = '"' + pem.strip().replace("\n", "\\n") + '"'
    issuer = build_issuer(CounsellingSettings(jwt_private_key_pem=escaped, jwt_key_id="k-2024"))
    assert issuer.kid == "k-2024" and issuer.jwks()["keys"][0]["kid"] == "k-2024"
    assert build_issuer(CounsellingSettings(jwt_private_key_pem=pem)).public_key_pem == issuer.public_key_pem


def test_without_a_signing_key_an_ephemeral_one_is_used():
    assert build_issuer(CounsellingSettings(jwt_private_key_pem=None)).kid.startswith("ephemeral-")


def test_key_ring_from_comma_list_uses_the_last_or_the_named_current_key():
    setting = f"old:{key()},new:{key()}"
    assert build_keyring(CounsellingSettings(sealed_note_keys=setting)).current_kid == "new"  # type: ignore[union-attr]
    named = build_keyring(CounsellingSettings(sealed_note_keys=setting, sealed_note_current_kid="old"))
    assert named is not None and named.current_kid == "old" and named.kids == ("old", "new")


def test_key_ring_from_a_json_list_uses_the_first_entry_as_compose_documents():
    ring = build_keyring(CounsellingSettings(sealed_note_keys=json.dumps([f"new:{key()}", f"old:{key()}"])))
    assert ring is not None and ring.current_kid == "new"
    sealed = ring.encrypt(plaintext="保密", note_id="n1", case_id="c1", author_group="psychologist")
    assert ring.decrypt(sealed=sealed, note_id="n1", case_id="c1", author_group="psychologist") == "保密"


def test_no_keys_means_no_ring():
    assert build_keyring(CounsellingSettings(sealed_note_keys=None)) is None
