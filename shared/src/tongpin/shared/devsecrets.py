"""Print fresh development secrets as environment assignments (`make up` keeps them in .run/secrets.env)."""

from __future__ import annotations

import base64
import os
import secrets

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def main() -> None:
    key = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    note_key = base64.b64encode(os.urandom(32)).decode()
    pem = key.strip().replace("\n", "\\n")
    print(f'TONGPIN_JWT_PRIVATE_KEY_PEM="{pem}"')
    print(f'TONGPIN_SEALED_NOTE_KEYS="dev1:{note_key}"')
    print(f"TONGPIN_RECEIPT_PEPPER={secrets.token_hex(32)}")
    print(f"TONGPIN_API_KEYS='[\"bridge:{secrets.token_urlsafe(24)}\"]'")


if __name__ == "__main__":
    main()
