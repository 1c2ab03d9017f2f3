"""``custody codes deposit|status|rotate``: an account's recovery codes, in and out of custody (never printed)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from custody.cli.common import account_path, client, fmt_option, read_codes, read_stdin
from custody.cli.output import emit, table

NEW_CODES_PROMPT = "Paste the new codes, one per line, then Ctrl-D:"


@click.group()
def codes() -> None:
    """Deposit, rotate and count an account's recovery codes (custody never prints them here)."""


@codes.command("deposit")
@click.argument("account")
@click.option("--file", "file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="file with one code per line (default: stdin)")
@click.option("--replace", is_flag=True, help="replace codes already deposited")
@fmt_option
def codes_deposit(account: str, file: Path | None, replace: bool, fmt: str) -> None:
    """Deposit ACCOUNT's recovery codes (1-8 for PyPI), read from --file or stdin.

    One code per line, as PyPI shows them or as you saved them: either case, spaces or dashes inside a code
    (0123-4567-89ab-cdef), blank lines, '#' comments, CRLF line ends and a UTF-8 BOM are all fine.
    """
    path = f"accounts/{account_path(account)}/codes"
    data = client().call("POST", path, {"codes": read_codes(file), "replace": replace})
    revoked = data["data"].get("revoked_grants") or []
    emit(fmt, data["data"], f"deposited {data['data']['total']} codes for {account}" +
         (f"; revoked the grants open for the old codes: {', '.join(revoked)}" if revoked else ""))


@codes.command("status")
@click.argument("account", required=False)
@fmt_option
def codes_status(account: str | None, fmt: str) -> None:
    """Remaining codes, age and depositor, per account. Never the codes."""
    path = f"accounts/{account_path(account)}/codes" if account else None
    api = client()
    if path:
        rows = [api.call("GET", path)["data"]]
    else:
        rows = api.call("GET", "codes", params={"list": "true"})["data"]["accounts"]
    out = rows[0] if account and fmt == "json" else rows
    text = table(rows, ["account", "remaining", "total", "age_days", "deposited_by", "rotation_due"])
    for row in rows:  # an open rotation is the one thing here that asks for action now
        if rot := row.get("interrupted_rotation"):
            text += (f"\n{row['account']}: rotation #{rot.get('rotation')} started by {rot.get('actor')} at "
                     f"{rot.get('started_at')} has not finished; if it was interrupted, finish it with "
                     f"`custody codes rotate {row['account']} --resume`")
    emit(fmt, out, text)


def _piped_stdin() -> str | None:
    return None if sys.stdin.isatty() else read_stdin()


@codes.command("rotate")
@click.argument("account")
@click.option("--file", "file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="file with the new codes, one per line (default: stdin)")
@click.option("--reason", default=None, help="why (default: scheduled rotation); kept in the evidence")
@click.option("--resume", is_flag=True, help="finish an interrupted rotation whose new codes are already stored")
@fmt_option
def codes_rotate(account: str, file: Path | None, reason: str | None, resume: bool, fmt: str) -> None:
    """Replace ACCOUNT's codes with the set just regenerated on the platform, and destroy the old set.

    Every earlier version of the old set is destroyed in Vault, open grants of the account are revoked, and
    evidence is kept. If a rotation was interrupted, running this again (or --resume) finishes it. The codes:
    one per line, in the format `codes deposit --help` describes.
    """
    path = f"accounts/{account_path(account)}/rotate"
    # With --resume the codes are optional: only needed if the interrupted run never stored them.
    text: str | None = read_codes(file, NEW_CODES_PROMPT) if not resume or file is not None else _piped_stdin()
    body = {"codes": text, "reason": reason, "resume": resume}
    r = client().call("POST", path, body)["data"]
    lines = [f"rotated {r['account']} (rotation #{r['rotation']}{', resumed' if r['resumed'] else ''}): "
             f"{r['count']} new codes, generation {r['generation']}",
             f"  destroyed versions: {', '.join(map(str, r['destroyed_versions'])) or 'none'}",
             f"  revoked grants:     {', '.join(r['revoked_grants']) or 'none'}"]
    emit(fmt, r, "\n".join(lines))


CODE_PROMPT = "Paste the code, then Ctrl-D:"


@codes.command("identify")
@fmt_option
def codes_identify(fmt: str) -> None:
    """Which account's current set holds the code on stdin, and whether it is unused, consumed or burned. The code
    is compared by keyed fingerprint, and never stored, logged or printed (security team)."""
    r = client().call("POST", "codes/identify", {"code": read_codes(None, CODE_PROMPT)})["data"]
    if not r["found"]:
        text = (f"that code is in no current code set ({r['checked']} accounts checked); a code of a rotated set is "
                "already useless")
    else:
        text = (f"{r['account']}: {r['status']} ({r['code_fp']}, generation {r['generation']})"
                + (f", handed out by grant {r['grant_id']} at {r['consumed_at']}" if r.get("grant_id") else "")
                + ("" if r["status"] == "burned" else f"\nif it leaked: `custody codes burn {r['account']}`, the code "
                                                        "on stdin"))
    emit(fmt, r, text)


@codes.command("burn")
@click.argument("account")
@fmt_option
def codes_burn(account: str, fmt: str) -> None:
    """Mark the code on stdin compromised in ACCOUNT's set: it is never handed out again, and ACCOUNT is due for
    rotation ("leaked code") at once (security team)."""
    path = f"accounts/{account_path(account)}/codes/burn"
    r = client().call("POST", path, {"code": read_codes(None, CODE_PROMPT)})["data"]
    emit(fmt, r, f"burned {r['code_fp']} of {r['account']}: never handed out again, {r['remaining']} code(s) left; "
                 f"the account is due for rotation now (regenerate on PyPI, then `custody codes rotate {account}`)")
