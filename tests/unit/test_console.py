"""The console's pure parts: HTML escaped by construction, sealing, the cookie's flags under TLS, a grant's story."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.requests import Request
from starlette.responses import Response

from custody.console.html import Html, el, join, render
from custody.console.seal import KeyRing, new_key
from custody.console.session import Cookies
from custody.console.story import age, story, waiting_for
from custody.domain.handout import code_of
from custody.domain.models import Decision, Grant, GrantStatus, Principal
from custody.errors import CustodyError
from custody.usecases.signin import Person


# ---- HTML ----------------------------------------------------------------------------------------------------------
@given(st.text())
def test_any_text_in_an_element_or_an_attribute_is_shown_as_text(text: str) -> None:
    markup = str(el("p", text, title=text))
    inner = markup[markup.index(">") + 1:-len("</p>")]
    assert "<" not in inner and ">" not in inner
    attr = markup[: markup.index(">")]
    assert attr.count('"') == 2  # the value cannot close its quotes


def test_markup_is_escaped_unless_it_was_built_here() -> None:
    assert render(["<b>", el("b", "x"), None, 3]) == "&lt;b&gt;<b>x</b>3"
    assert str(join("a & b", el("br"))) == "a &amp; b<br>"
    with pytest.raises(TypeError):
        Html("<script>")


@pytest.mark.parametrize("href", ["javascript:alert(1)", "//evil.example/x", "data:text/html,x", " /x"])
def test_a_link_goes_only_to_custodys_own_paths_or_to_http(href: str) -> None:
    with pytest.raises(ValueError, match="not an address"):
        el("a", "x", href=href)
    assert str(el("a", "x", href="/ui/grants/gr_x?done=1")) == '<a href="/ui/grants/gr_x?done=1">x</a>'


def test_tag_and_attribute_names_are_checked_and_void_elements_have_no_content() -> None:
    with pytest.raises(ValueError):
        el("p onclick=x", "y")
    with pytest.raises(ValueError):
        el("p", "y", **{"on click": "x"})
    with pytest.raises(ValueError):
        el("input", "content")
    assert str(el("input", type="checkbox", checked=True, disabled=False, aria_label="a")) == \
        '<input type="checkbox" checked aria-label="a">'


# ---- sealing -------------------------------------------------------------------------------------------------------
def test_what_is_sealed_opens_for_its_purpose_only_and_not_once_changed() -> None:
    ring = KeyRing([os.urandom(32)])
    sealed = ring.seal("session", {"t": "hvs.secret", "exp": 1})
    assert "hvs.secret" not in sealed
    assert ring.open("session", sealed) == {"t": "hvs.secret", "exp": 1}
    assert ring.open("oidc", sealed) is None
    for i in (len(sealed) - 1, len(sealed) // 2, 3):
        changed = sealed[:i] + ("A" if sealed[i] != "A" else "B") + sealed[i + 1:]
        assert ring.open("session", changed) is None
    assert ring.open("session", "garbage") is None
    assert KeyRing([os.urandom(32)]).open("session", sealed) is None


def test_a_key_file_rotates_keys_the_first_seals_every_one_opens(tmp_path: Path) -> None:
    old, new = new_key(), new_key()
    path = tmp_path / "console.key"
    path.write_text(f"{old}\n")
    sealed_before = KeyRing.from_file(path).seal("session", {"n": 1})
    path.write_text(f"# rotated\n{new}\n{old}\n\n")
    ring = KeyRing.from_file(path)
    assert ring.open("session", sealed_before) == {"n": 1}
    sealed_after = ring.seal("session", {"n": 2})
    path.write_text(f"{new}\n")
    assert KeyRing.from_file(path).open("session", sealed_after) == {"n": 2}
    assert KeyRing.from_file(path).open("session", sealed_before) is None


@pytest.mark.parametrize(("text", "why"), [("", "holds no key"), ("not base64!\n", "line 1"),
                                           (base64.b64encode(b"short").decode(), "32 random bytes")])
def test_a_bad_key_file_is_refused_with_what_to_do(tmp_path: Path, text: str, why: str) -> None:
    path = tmp_path / "k"
    path.write_text(text)
    with pytest.raises(CustodyError, match=why):
        KeyRing.from_file(path)
    with pytest.raises(CustodyError, match="cannot read"):
        KeyRing.from_file(tmp_path / "missing")


def _request(scheme: str) -> Request:
    return Request({"type": "http", "scheme": scheme, "method": "GET", "path": "/ui/", "headers": [],
                    "server": ("custody.example", 443), "query_string": b""})


def test_under_tls_the_cookie_is_secure_and_host_prefixed() -> None:
    cookies = Cookies(KeyRing([os.urandom(32)]), public_url=None)
    who = Principal(id="e1", display_name="alice")
    person = Person(token="hvs.x", principal=who, expires_at=datetime.now(UTC) + timedelta(hours=1))
    response = Response()
    cookies.start(response, _request("https"), person)
    header = next(v.decode() for k, v in response.raw_headers if k == b"set-cookie" and b"session" in v)
    assert header.startswith("__Host-custody-session=") and "Secure" in header and "HttpOnly" in header
    assert "SameSite=strict" in header and "Path=/" in header and "Domain" not in header
    assert Cookies(cookies.ring, public_url="https://custody.example/ui").secure(_request("http"))
    assert "hvs.x" not in repr(person) and "hvs.x" not in header


# ---- a grant's story -----------------------------------------------------------------------------------------------
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _grant(**kw: object) -> Grant:
    base: dict[str, object] = {"id": "gr_aaaaaaaaaaaaaaaa", "account": "pypi/acme", "requester": "eve",
                               "requester_id": "e", "reason": "r", "status": GrantStatus.pending,
                               "approvals_required": 2, "created_at": T0, "expires_at": T0 + timedelta(hours=24)}
    return Grant.model_validate(base | kw)


def test_the_story_is_in_order_with_every_comment() -> None:
    g = _grant(status=GrantStatus.revealed, code_fp="fp-1", revealed_at=T0 + timedelta(hours=3),
               approvals=(Decision(by="bob", by_id="b", at=T0 + timedelta(hours=2), comment="second"),
                          Decision(by="ann", by_id="a", at=T0 + timedelta(hours=1), comment="first")))
    assert [(s.what, s.who, s.comment) for s in story(g)] == [
        ("requested", "eve", "r"), ("approved", "ann", "first"), ("approved", "bob", "second"),
        ("revealed: one code handed out", "eve", "")]
    assert waiting_for(g, review_overdue=False) == []


def test_what_a_grant_waits_for() -> None:
    assert waiting_for(_grant(approvals=(Decision(by="a", by_id="a", at=T0),)), False) == [
        "1 more approval from an approver other than the requester"]
    emergency = _grant(status=GrantStatus.approved, emergency=True)
    assert waiting_for(emergency, True)[1] == "OVERDUE: an approver's review of this emergency access"
    revoked = story(_grant(status=GrantStatus.revoked, revoked_reason="codes rotated"))
    assert (revoked[-1].at, revoked[-1].what, revoked[-1].comment) == (None, "revoked", "codes rotated")
    assert age(T0, T0 + timedelta(minutes=5)) == "5 min" and age(T0, T0 + timedelta(days=2)) == "2 d"


def test_the_code_is_found_where_either_payload_shape_puts_it() -> None:
    assert code_of({"code": "abc"}) == "abc"
    assert code_of({"data": {"code": "abc"}, "metadata": {}}) == "abc"
    assert code_of({"data": {}}) is None and code_of({"code": ""}) is None


def test_all_grants_draws_the_newest_page_and_counts_the_rest() -> None:
    from custody.console import pages
    from custody.console.layout import Frame

    def gid(n: int) -> str:  # a valid grant id per number: base32 digits
        alphabet = "abcdefghijklmnopqrstuvwxyz234567"
        return "gr_" + "a" * 13 + "".join(alphabet[(n >> shift) & 31] for shift in (10, 5, 0))

    t0 = datetime(2026, 6, 1, tzinfo=UTC)
    grants = [Grant(id=gid(i), account="pypi/acme", requester="userpass-alice", requester_id="e-alice",
                    reason="lost my key on the train, need to log in", status=GrantStatus.pending,
                    approvals_required=1, created_at=t0 + timedelta(minutes=i), expires_at=t0 + timedelta(days=1))
              for i in range(pages.GRANTS_SHOWN + 25)]
    drawn = str(pages.all_grants(Frame(), grants, ""))
    assert gid(len(grants) - 1) in drawn and gid(25) in drawn  # the newest page, newest first
    assert gid(24) not in drawn and gid(0) not in drawn
    assert f"The newest {pages.GRANTS_SHOWN} of {len(grants)} grants are shown; 25 older ones are not." in drawn
    few = str(pages.all_grants(Frame(), grants[:3], ""))
    assert "older ones are not" not in few and gid(0) in few
