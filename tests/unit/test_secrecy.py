"""Redaction: logs, reprs and errors never carry a code or a token."""

from __future__ import annotations

import io
import json

import structlog
from hypothesis import given
from hypothesis import strategies as st

from custody import logging as clog
from custody.config import ServerSettings
from custody.domain.models import CodeSet, utcnow
from custody.repo.kv import WrapInfo

CODE = "0123456789abcdef"
TOKEN = "s.AbCdEfGhIjKlMnOpQrStUvWx"


def test_redaction_of_keys_and_values() -> None:
    out = io.StringIO()
    clog.configure("json", "debug", stream=out)
    try:
        log = structlog.get_logger("t")
        log.info("x", code=CODE, token=TOKEN, note=f"the code is {CODE}", nested={"secret_id": "abc", "ok": 1},
                 words=[f"tok {TOKEN}"])
    finally:
        structlog.reset_defaults()
    line = out.getvalue()
    assert CODE not in line and TOKEN not in line and "abc" not in line
    assert json.loads(line)["nested"]["ok"] == 1


@given(st.binary(min_size=8, max_size=8).map(bytes.hex), st.text(max_size=30), st.text(max_size=30))
def test_scrub_finds_codes_anywhere(code: str, before: str, after: str) -> None:
    scrubbed = clog.scrub(f"{before} {code} {after}")
    assert code not in scrubbed.replace(before, "").replace(after, "") or code in before or code in after


def test_reprs_hide_secrets() -> None:
    cs = CodeSet.new("pypi/acme", [CODE], "sec", utcnow())
    assert CODE not in repr(cs) and CODE not in str(cs)
    wrap = WrapInfo(token=TOKEN, accessor="acc", ttl=300, creation_time="now")
    assert TOKEN not in repr(wrap)
    settings = ServerSettings(secret_id="super-secret-id-value")
    assert "super-secret-id-value" not in repr(settings)
