"""Sealing: what the console keeps in a browser's cookie (above all the person's Vault token) is encrypted and
authenticated with AES-256-GCM under a key every replica reads from the same file (``CUSTODY_CONSOLE_KEY_FILE``).

The browser cannot read or change what it holds; a replica that never saw the sign-in opens it; a restart loses
nothing. The key file holds one key per line (32 random bytes, base64): the first seals, every one opens, so a key
is rotated by putting the new one first, and removing the old one once the sessions it sealed have ended.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from custody.errors import CustodyError

KEY_BYTES = 32
_NONCE = 12
_VERSION = "v1"


def new_key() -> str:
    """A fresh key, as a line of a key file."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def _key_id(key: bytes) -> str:
    """A short public name of a key, so the right one is tried first (it tells nothing about the key)."""
    return hashlib.sha256(b"custody-console-key-id" + key).hexdigest()[:8]


class KeyRing:
    """The keys sessions are sealed with: the first seals, any opens."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys or any(len(k) != KEY_BYTES for k in keys):
            raise CustodyError(f"a console key is {KEY_BYTES} random bytes", hint="make one with "
                               "`python -c 'import base64,os; print(base64.b64encode(os.urandom(32)).decode())'`")
        self._keys = {_key_id(k): AESGCM(k) for k in keys}
        self._sealing = _key_id(keys[0])

    def __repr__(self) -> str:
        return f"KeyRing({len(self._keys)} keys)"

    @classmethod
    def from_file(cls, path: Path) -> KeyRing:
        """The keys in ``path``: one per line, base64 (standard or URL-safe), blank lines and ``#`` comments
        ignored."""
        try:
            lines = path.read_text().splitlines()
        except OSError as exc:
            raise CustodyError(f"cannot read CUSTODY_CONSOLE_KEY_FILE {path}: {exc.strerror}",
                               hint="check the file exists and the server may read it") from None
        keys = []
        for number, line in enumerate(lines, start=1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            try:
                keys.append(base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True))
            except (binascii.Error, ValueError):
                raise CustodyError(f"line {number} of {path} is not a base64 key", hint="one key per line") from None
        if not keys:
            raise CustodyError(f"{path} holds no key", hint="write one line of 32 random bytes in base64")
        return cls(keys)

    def seal(self, purpose: str, payload: dict[str, Any]) -> str:
        """``payload`` encrypted and authenticated for ``purpose`` (a sealed session is no OIDC state)."""
        nonce = os.urandom(_NONCE)
        data = self._keys[self._sealing].encrypt(nonce, json.dumps(payload, separators=(",", ":")).encode(),
                                                 purpose.encode())
        return f"{_VERSION}.{self._sealing}.{base64.urlsafe_b64encode(nonce + data).decode().rstrip('=')}"

    def open(self, purpose: str, sealed: str) -> dict[str, Any] | None:
        """What :meth:`seal` sealed for ``purpose``; None for anything else (changed, another key's, garbage)."""
        version, _, rest = sealed.partition(".")
        key_id, _, body = rest.partition(".")
        aead = self._keys.get(key_id)
        if version != _VERSION or aead is None or len(body) > 8192:
            return None
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            payload = json.loads(aead.decrypt(raw[:_NONCE], raw[_NONCE:], purpose.encode()))
        except (binascii.Error, ValueError, InvalidTag):
            return None
        return payload if isinstance(payload, dict) else None
