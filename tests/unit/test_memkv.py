"""The in-memory KV itself: it satisfies the KV port (checked by mypy), its hooks reach between a use case's calls,
and a wrapping token works once. (That it answers like OpenBao is tests/integration/test_memkv_agreement.py.)"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from custody.errors import CasConflict, NotFound
from tests.memkv import MemKV

ROOT = Path(__file__).resolve().parents[2]


def test_memkv_and_the_fake_vault_satisfy_the_ports_mypy_says() -> None:
    from mypy import api

    out, err, status = api.run(["--strict", "--no-error-summary", "--cache-dir", str(ROOT / ".mypy_cache"),
                                str(ROOT / "tests" / "memkv.py"), str(ROOT / "tests" / "fakes.py")])
    assert status == 0, out + err


def test_hooks_see_the_use_cases_calls_not_their_own() -> None:
    kv = MemKV()
    seen: list[tuple[str, str]] = []

    def competing(op: str, path: str) -> None:
        seen.append((op, path))
        if (op, path) == ("read", "a"):
            kv.write("a", {"by": "hook"}, cas=1)  # a competing write between a read and its write

    kv.write("a", {"by": "first"}, cas=0)
    kv.after.append(competing)
    entry = kv.read("a")
    assert entry is not None and entry.version == 1
    with pytest.raises(CasConflict):
        kv.write("a", {"by": "us"}, cas=entry.version)
    assert seen == [("read", "a")]  # after hooks follow the calls that succeeded
    assert kv.calls == [("write", "a"), ("read", "a"), ("write", "a")]
    assert kv.writes() == [("write", "a"), ("write", "a")]


def test_a_wrapping_token_works_once_and_holds_a_copy() -> None:
    kv = MemKV()
    kv.stage("reveals/x", {"code": "0123456789abcdef"})
    wrap = kv.wrap_staged("reveals/x", timedelta(minutes=5))
    kv.unstage("reveals/x")
    assert wrap.ttl == 300 and "hvs." not in repr(wrap)
    assert kv.unwrap(wrap.token) == {"code": "0123456789abcdef"}
    with pytest.raises(KeyError):
        kv.unwrap(wrap.token)
    assert not kv.revoke_wrapping(wrap.accessor)  # used: there is nothing left to revoke


def test_a_revoked_wrapping_token_cannot_be_unwrapped_and_a_new_token_sees_no_staged_entry() -> None:
    kv = MemKV()
    kv.stage("reveals/x", {"code": "0123456789abcdef"})
    wrap = kv.wrap_staged("reveals/x", timedelta(minutes=5))
    assert kv.revoke_wrapping(wrap.accessor) and not kv.revoke_wrapping(wrap.accessor)
    with pytest.raises(KeyError):
        kv.unwrap(wrap.token)
    kv.renew_token()
    with pytest.raises(NotFound):
        kv.wrap_staged("reveals/x", timedelta(minutes=5))
