"""Ed25519 keys for evidence packs: PEM files, key ids, and a local signer for air-gapped builds.

A key id is ``sha256:`` and the hex SHA-256 of the key's SubjectPublicKeyInfo (DER): the same for the service's
Vault transit key (whose raw public key Vault returns) and for a PEM file, so a verifier can tell which signature
is whose.
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from custody.evidence.dsse import InvalidEvidence, PublicKey, Signature


def keyid(key: Ed25519PublicKey) -> str:
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(der).hexdigest()


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def from_raw(raw: bytes, name: str) -> PublicKey:
    """A public key from its 32 raw bytes (what Vault's transit engine returns for an ed25519 key)."""
    try:
        key = Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise InvalidEvidence(f"{name} is not an Ed25519 public key") from None
    return PublicKey(keyid(key), key, name)


def load_public(pem: bytes, name: str) -> PublicKey:
    """A public key from a PEM file (or the public half of a private key file)."""
    try:
        key: object = serialization.load_pem_public_key(pem)
    except ValueError:
        key = _private(pem, name).public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidEvidence(f"{name} is not an Ed25519 key", hint="evidence packs are signed with Ed25519 keys")
    return PublicKey(keyid(key), key, name)


def _private(pem: bytes, name: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise InvalidEvidence(f"{name} is not a PEM key file (or it is encrypted)",
                              hint="make one with `custody evidence keygen --out KEYFILE`") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidEvidence(f"{name} is not an Ed25519 key", hint="evidence packs are signed with Ed25519 keys")
    return key


class LocalSigner:
    """Signs with a private key read from a PEM file; never shows the key."""

    def __init__(self, pem: bytes, name: str) -> None:
        self._key = _private(pem, name)
        self.keyid = keyid(self._key.public_key())

    def __repr__(self) -> str:
        return f"LocalSigner(keyid={self.keyid!r})"

    def __call__(self, data: bytes) -> Signature:
        return Signature(self.keyid, self._key.sign(data))


def generate() -> tuple[bytes, str]:
    """A new key pair: the private key as PEM (PKCS#8, unencrypted) and the public key as PEM."""
    key = Ed25519PrivateKey.generate()
    return private_pem(key), public_pem(key.public_key())
