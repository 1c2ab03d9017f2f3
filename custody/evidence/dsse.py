"""DSSE envelopes: the pre-authentication encoding (PAE), strict parsing, signing and verification.

An envelope is ``{"payload": base64, "payloadType": TYPE, "signatures": [{"keyid", "sig"}, ...]}``; each
signature is over ``PAE(payloadType, payload)`` (the decoded payload bytes), as the DSSE protocol defines it::

    PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body

with LEN the length in bytes as ASCII decimal. Parsing is strict: a base64 text that is not the canonical
encoding of its bytes (another padding, stray bits in the last character) is refused, so that no byte of the file
can change without verification noticing.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from custody.errors import CustodyError

PAYLOAD_TYPE = "application/vnd.in-toto+json"
MAX_SIGNATURES = 16


class InvalidEvidence(CustodyError):
    """A pack that is malformed, or whose signatures or digests do not check out."""

    status = 400
    code = "evidence_invalid"


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding of ``payload`` under ``payload_type``: the bytes a signature covers."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str, what: str) -> bytes:
    """Standard base64, canonical only: the one text that encodes the bytes it decodes to."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise InvalidEvidence(f"malformed envelope: {what} is not base64",
                              hint="the file was damaged or edited; ask for the pack again") from None
    if b64encode(data) != text:
        raise InvalidEvidence(f"malformed envelope: {what} is not canonical base64",
                              hint="the file was damaged or edited; ask for the pack again")
    return data


@dataclass(frozen=True)
class Signature:
    keyid: str
    sig: bytes

    def as_json(self) -> dict[str, str]:
        return {"keyid": self.keyid, "sig": b64encode(self.sig)}


@dataclass(frozen=True)
class Envelope:
    payload: bytes
    payload_type: str = PAYLOAD_TYPE
    signatures: tuple[Signature, ...] = field(default=())

    def signed_bytes(self) -> bytes:
        return pae(self.payload_type, self.payload)

    def with_signature(self, signature: Signature) -> Envelope:
        if any(s.keyid == signature.keyid for s in self.signatures):
            raise InvalidEvidence(f"the pack is already signed by key {signature.keyid}",
                                  hint="co-sign with another key")
        if len(self.signatures) >= MAX_SIGNATURES:
            raise InvalidEvidence(f"the pack already holds {MAX_SIGNATURES} signatures")
        return Envelope(self.payload, self.payload_type, (*self.signatures, signature))

    def as_json(self) -> dict[str, object]:
        return {"payload": b64encode(self.payload), "payloadType": self.payload_type,
                "signatures": [s.as_json() for s in self.signatures]}

    def dumps(self) -> bytes:
        return (json.dumps(self.as_json(), indent=2) + "\n").encode("utf-8")


def _malformed(why: str) -> InvalidEvidence:
    return InvalidEvidence(f"malformed envelope: {why}",
                           hint="an evidence pack is the JSON file `custody evidence build` writes")


def parse(raw: bytes) -> Envelope:
    """An envelope from a file's bytes, or InvalidEvidence saying what is wrong with it."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise _malformed("not JSON") from None
    if not isinstance(doc, dict) or set(doc) != {"payload", "payloadType", "signatures"}:
        raise _malformed('expected exactly the keys "payload", "payloadType" and "signatures"')
    payload, kind, sigs = doc["payload"], doc["payloadType"], doc["signatures"]
    if not isinstance(payload, str) or not isinstance(kind, str):
        raise _malformed('"payload" and "payloadType" must be strings')
    if not isinstance(sigs, list) or len(sigs) > MAX_SIGNATURES:
        raise _malformed(f'"signatures" must be a list of at most {MAX_SIGNATURES}')
    signatures = []
    for i, s in enumerate(sigs):
        if (not isinstance(s, dict) or set(s) != {"keyid", "sig"} or not isinstance(s["keyid"], str)
                or not isinstance(s["sig"], str)):
            raise _malformed(f'signature {i + 1} must be {{"keyid": string, "sig": base64}}')
        signatures.append(Signature(s["keyid"], b64decode(s["sig"], f"signature {i + 1}")))
    return Envelope(b64decode(payload, "the payload"), kind, tuple(signatures))


# ---- keys and verification ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PublicKey:
    """A key a verifier trusts, with the name it is reported by (a file, or the Vault key and version)."""

    keyid: str
    key: Ed25519PublicKey
    name: str


@dataclass(frozen=True)
class Verified:
    signers: tuple[str, ...]  # the names of the keys whose signatures verified
    unchecked: tuple[str, ...]  # keyids of signatures by keys the verifier did not give


def verify(envelope: Envelope, keys: Sequence[PublicKey], payload_type: str = PAYLOAD_TYPE) -> Verified:
    """Check the payload type and every signature made by a given key; at least one must verify, and none of
    them may fail. Signatures by other keys are reported as not checked."""
    if envelope.payload_type != payload_type:
        raise InvalidEvidence(f"wrong payload type {envelope.payload_type!r}, expected {payload_type!r}",
                              hint="this file is not an evidence pack")
    if not envelope.signatures:
        raise InvalidEvidence("the pack is not signed", hint="sign it: custody evidence sign FILE --key KEYFILE")
    if not keys:
        raise InvalidEvidence("no public key to verify with", hint="pass --public-key PEM, or --vault")
    signed = envelope.signed_bytes()
    by_id = {k.keyid: k for k in keys}
    signers: list[str] = []
    unchecked: list[str] = []
    for n, sig in enumerate(envelope.signatures, 1):
        key = by_id.get(sig.keyid)
        if key is None:
            # A keyid is a hint, not part of what is signed: a signature under an unknown one may still be by a
            # key given.
            key = next((k for k in keys if _good(k.key, sig.sig, signed)), None)
            if key is None:
                unchecked.append(sig.keyid)
            else:
                signers.append(key.name)
            continue
        if not _good(key.key, sig.sig, signed):
            raise InvalidEvidence(f"signature {n} (key {key.name}) does not verify: the pack was changed after it "
                                  "was signed, or the signature itself was altered",
                                  hint="do not rely on this pack; build it again")
        signers.append(key.name)
    if not signers:
        raise InvalidEvidence("no signature was made by a key given (" + ", ".join(k.name for k in keys) + ")",
                              hint="wrong public key? the pack is signed by key ids " + ", ".join(unchecked))
    return Verified(tuple(signers), tuple(unchecked))


def _good(key: Ed25519PublicKey, sig: bytes, data: bytes) -> bool:
    try:
        key.verify(sig, data)
    except InvalidSignature:
        return False
    return True


Sign = Callable[[bytes], Signature]


def sign(envelope: Envelope, signers: Iterable[Sign]) -> Envelope:
    """The envelope with one more signature from each signer (each given the PAE bytes)."""
    for signer in signers:
        envelope = envelope.with_signature(signer(envelope.signed_bytes()))
    return envelope
