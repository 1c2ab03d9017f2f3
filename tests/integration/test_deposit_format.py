"""A codes file as a person saves it goes in through the real CLI and server; a bad one is refused, naming what
is wrong, and deposits nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import Stack, new_codes, uniq

pytestmark = pytest.mark.integration


def test_a_saved_file_with_bom_crlf_comments_and_groups_is_deposited(stack: Stack, tmp_path: Path) -> None:
    account = f"pypi/{uniq('saved')}"
    assert stack.cli("security", "accounts", "add", account, "--owner", "o@example.com").exit_code == 0
    a, b, c = new_codes(3)
    saved = tmp_path / "codes.txt"
    saved.write_bytes(("\ufeff# PyPI recovery codes\r\n\r\n" + "-".join([a[:4], a[4:8], a[8:12], a[12:]]) +
                       f"\r\n{b.upper()}  # second\r\n {c[:8]} {c[8:]} \r\n").encode())
    r = stack.cli("security", "codes", "deposit", account, "--file", str(saved))
    assert r.exit_code == 0 and r.out.strip() == f"deposited 3 codes for {account}", r.err


def test_a_hidden_character_is_named_and_nothing_is_deposited(stack: Stack) -> None:
    account = f"pypi/{uniq('hidden')}"
    assert stack.cli("security", "accounts", "add", account, "--owner", "o@example.com").exit_code == 0
    good, bad = new_codes(2)
    r = stack.cli("security", "codes", "deposit", account, stdin=f"{good}\n{bad[:6]}\u200b{bad[6:]}\n")
    assert r.exit_code == 1, r.out
    assert "line 2: an invisible character, a zero-width space (U+200B), is in this line (it shows 16 characters)" \
        in r.err and bad not in r.err and good not in r.err
    status = stack.cli("security", "codes", "status", account, "--format", "json")
    assert status.json()["total"] == 0
