"""Leaked codes: recognise a code someone found (in a chat, a ticket, a paste), and burn it. Pure: no I/O.

Beside each code set custody keeps its codes' *keyed* fingerprints (``Prints``): HMAC-SHA256 of each code under a
key only the service can read (a random key in the service's KV mount), so that a code can be matched to its
account without custody holding an index of codes, and without a fingerprint anyone else could compute. (The
short unkeyed fingerprint ``fp`` that names a code in evidence is not good enough here: it is in the audit log in
clear, so whoever reads that log could check a guessed code against it.)

A code is never stored or logged by identification: it is fingerprinted, compared, and dropped.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from custody.domain.models import CodeSet, StoredCode, iso
from custody.domain.platforms import Platform
from custody.errors import NotFound, ValidationError

LEAK_REASON = "leaked code"


def keyed(key: bytes, code: str) -> str:
    return hmac.new(key, code.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Prints:
    """The keyed fingerprints of one generation of an account's code set: print -> the code's ``fp``."""

    account: str
    generation: int
    prints: dict[str, str]
    key_id: str  # which key made them (``key_id``): prints of another key are rebuilt, never compared


def key_id(key: bytes) -> str:
    """A name for a fingerprint key that does not give it away."""
    return "k-" + hashlib.sha256(b"custody prints key id\0" + key).hexdigest()[:12]


def prints_of(cs: CodeSet, key: bytes) -> Prints:
    return Prints(cs.account, cs.generation, {keyed(key, c.code): c.fp for c in cs.codes if c.code}, key_id(key))


def one_code(text: str) -> str:
    """The single code pasted on stdin (blank lines aside); ValidationError, never naming it, otherwise."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise ValidationError("no code given", hint="pass the leaked code on stdin, alone on its line")
    if len(lines) > 1:
        raise ValidationError(f"{len(lines)} lines given; one code at a time",
                              hint="pass the leaked code on stdin, alone on its line")
    return lines[0]


def candidates(raw: str, platforms: Iterable[Platform]) -> list[str]:
    """The code as each platform in use would read it; ValidationError if none takes it for a code."""
    found = []
    for platform in platforms:
        try:
            found.append(platform.normalize_code(raw))
        except ValidationError:
            continue
    if not found:
        raise ValidationError(f"that is not a recovery code of any account custody holds ({len(raw)} characters)",
                              hint="a PyPI recovery code is 16 hexadecimal characters (0-9, a-f)")
    return list(dict.fromkeys(found))


def code_state(c: StoredCode) -> str:
    if c.burned_at is not None:
        return "burned"
    return "consumed" if c.consumed_at is not None else "unused"


def identified(cs: CodeSet, fp: str) -> dict[str, object]:
    """What ``codes identify`` answers for the code ``fp`` of set ``cs`` (never the code)."""
    c = _find(cs, fp)
    return {"found": True, "account": cs.account, "generation": cs.generation, "code_fp": c.fp,
            "status": code_state(c), "grant_id": c.grant_id, "consumed_at": iso(c.consumed_at),
            "burned_at": iso(c.burned_at), "remaining": cs.remaining}


def burn(cs: CodeSet, fp: str, now: datetime) -> CodeSet:
    """``cs`` with the code ``fp`` marked compromised: never handed out again (already burned: ``cs`` itself)."""
    c = _find(cs, fp)
    if c.burned_at is not None:
        return cs
    return cs.model_copy(update={"codes": tuple(x.model_copy(update={"burned_at": now}) if x.fp == fp else x
                                                for x in cs.codes)})


def _find(cs: CodeSet, fp: str) -> StoredCode:
    for c in cs.codes:
        if c.fp == fp:
            return c
    raise NotFound(f"that code is not in {cs.account}'s current set",
                   hint="check the account, or run `custody codes identify` to find which holds it")


def matching(cs: CodeSet, codes: Iterable[str]) -> str | None:
    """The ``fp`` of the code of ``cs`` that is one of ``codes``, if any (for an account the caller names)."""
    wanted = list(codes)
    return next((c.fp for c in cs.codes if c.code and any(hmac.compare_digest(c.code, w) for w in wanted)), None)
