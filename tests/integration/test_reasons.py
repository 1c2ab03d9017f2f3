"""Reasons through the real CLI and server: short real reasons in any script are accepted, filler and keyboard
mash are refused and leave nothing behind, and a rotation's reason gets the same hidden-character check."""

from __future__ import annotations

import pytest

from tests.helpers import Stack, new_codes

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("reason", [
    "Sicherheitsschlüssel verloren, muss heute das Update 2.3.1 veröffentlichen",
    "鍵を紛失、至急リリースが必要です",
    "فقدت مفتاح الأمان وأحتاج إلى نشر الإصدار 2.3.1 اليوم",
    "मेरी सुरक्षा कुंजी खो गई है, आज 2.3.1 रिलीज़ करनी है",
    "Lost my YubiKey \u26a0\ufe0f need the 2.3.1 fix out today",
])
def test_short_real_reasons_in_several_scripts_are_accepted(stack: Stack, account: str, reason: str) -> None:
    r = stack.cli("engineer", "access", "request", account, "--reason", reason, "--format", "json")
    assert r.exit_code == 0, r.err
    assert r.json()["reason"] == reason


@pytest.mark.parametrize(("reason", "message"), [
    ("need access to the account please", "the reason does not explain anything"),
    ("lost key xyzwv abcde", "the reason has words that look like keyboard mash: xyzwv, abcde"),
])
def test_filler_and_mash_are_refused_and_leave_no_grant(stack: Stack, account: str, reason: str,
                                                        message: str) -> None:
    before = stack.cli("engineer", "access", "list", "--format", "json").json()
    r = stack.cli("engineer", "access", "request", account, "--reason", reason)
    assert r.exit_code == 1 and message in r.err and "hint:" in r.err, r.err
    assert stack.cli("engineer", "access", "list", "--format", "json").json() == before


def test_a_rotation_reason_with_a_hidden_character_is_refused(stack: Stack, account: str) -> None:
    before = stack.cli("security", "codes", "status", account, "--format", "json").json()
    r = stack.cli("security", "codes", "rotate", account, "--reason", "lost laptop\u202e, rotating",
                  stdin="\n".join(new_codes(8)))
    assert r.exit_code == 1, r.out
    assert "the rotation reason contains an invisible or control character, a right-to-left override (U+202E)" \
        in r.err
    assert stack.cli("security", "codes", "status", account, "--format", "json").json() == before
