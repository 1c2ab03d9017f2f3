"""``custody keys add|list|remove|reassign|verify|check``: the WebAuthn keys registered on each account, who holds
each, and whether every account has enough of them.

``keys check`` is for cron and CI like the rotation sweep: exit 0 when every account is ok, 3 when one is not, 1
when the check could not run.
"""

from __future__ import annotations

from typing import Any

import click

from custody.cli.common import Flagged, account_path, client, fmt_option
from custody.cli.output import emit, printable, table
from custody.shellwords import shell_word


@click.group()
def keys() -> None:
    """The WebAuthn key roster: which keys each account has, who holds them, and whether that is enough."""


def _rows(roster: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"account": roster["account"], "label": k["label"], "custodian": k["custodian"], "serial": k["serial"],
             "model": k.get("model") or "", "status": k["status"], "verified": (k.get("verified_at") or "never")[:10]}
            for k in roster["keys"]]


COLUMNS = ["account", "label", "custodian", "serial", "model", "status", "verified"]


@keys.command("add")
@click.argument("account")
@click.option("--label", required=True, help="the key's label on PyPI (at most 64 characters, unique per account)")
@click.option("--custodian", required=True, help="email of the person who holds the key")
@click.option("--serial", required=True, help="the token's serial number (printed on it, or `ykman info`)")
@click.option("--model", default=None, help="e.g. YubiKey 5C NFC")
@click.option("--location", default=None, help="where it is kept, e.g. 'on Alice's keyring' or 'safe, office 2'")
@click.option("--shared-token", is_flag=True, help="allow a token already registered on another account")
@fmt_option
def keys_add(account: str, label: str, custodian: str, serial: str, model: str | None, location: str | None,
             shared_token: bool, fmt: str) -> None:
    """Record a WebAuthn key registered on ACCOUNT (the security team)."""
    body = {"label": label, "custodian": custodian, "serial": serial, "model": model, "location": location,
            "shared_token": shared_token}
    r = client().call("POST", f"accounts/{account_path(account)}/keys", body)["data"]
    emit(fmt, r, f"added key {printable(label)!r} to {account} ({len(r['keys'])} key(s) now); its custodian "
                 f"confirms they hold it with `custody keys verify {account} {shell_word(printable(label))}`")


@keys.command("list")
@click.argument("account", required=False)
@fmt_option
def keys_list(account: str | None, fmt: str) -> None:
    """Every account's keys, or ACCOUNT's."""
    api = client()
    if account:
        rosters = [api.call("GET", f"accounts/{account_path(account)}/keys")["data"]]
    else:
        rosters = api.call("GET", "keys", params={"list": "true"})["data"]["rosters"]
    emit(fmt, rosters[0] if account and fmt == "json" else rosters,
         table([row for r in rosters for row in _rows(r)], COLUMNS))


def _labelled(action: str, doc: str) -> click.Command:
    """``keys remove|reassign ACCOUNT LABEL --reason TEXT`` (reassign: and ``--custodian``)."""

    @click.command(action, help=doc)
    @click.argument("account")
    @click.argument("label")
    @click.option("--reason", required=True, help="why (kept on the record)")
    @fmt_option
    def command(account: str, label: str, reason: str, fmt: str, custodian: str | None = None) -> None:
        body = {"label": label, "reason": reason} | ({"custodian": custodian} if action == "reassign" else {})
        r = client().call("POST", f"accounts/{account_path(account)}/keys/{action}", body)["data"]
        done = "removed" if action == "remove" else f"reassigned to {custodian}"
        emit(fmt, r, f"{printable(label)!r} on {account} {done}\n" + table(_rows(r), COLUMNS))

    if action == "reassign":
        command = click.option("--custodian", required=True, help="email of the key's new holder")(command)
    return command


for _command in (
    _labelled("remove", "Take the key LABEL off ACCOUNT's roster (after removing it on PyPI)."),
    _labelled("reassign", "Give the key LABEL of ACCOUNT a new custodian, who must then verify it."),
):
    keys.add_command(_command)


@keys.command("verify")
@click.argument("account")
@click.argument("label")
@fmt_option
def keys_verify(account: str, label: str, fmt: str) -> None:
    """Confirm you hold the key LABEL of ACCOUNT (its custodian only; recorded with who and when)."""
    r = client().call("POST", f"accounts/{account_path(account)}/keys/verify", {"label": label})["data"]
    key: dict[str, Any] = next((k for k in r["keys"] if k["label"] == label.strip()), {})
    emit(fmt, r, f"verified {printable(label)!r} on {account} at {key.get('verified_at')}")


@keys.command("check")
@fmt_option
def keys_check(fmt: str) -> None:
    """Whether every account has two verified keys on separate tokens. Exit 3 if one has not, 0 if all have."""
    r = client().call("GET", "keys/check")["data"]
    rows = [{"account": a["account"], "ok": "ok" if a["ok"] else "NOT OK", "keys": a["keys"],
             "tokens": a["distinct_tokens"], "custodians": len(a["custodians"]),
             "problems": "; ".join(f"{p['message']}{' (warning)' if p['severity'] == 'warning' else ''}"
                                   for p in a["problems"])} for a in r["accounts"]]
    human = f"{r['checked']} accounts checked, {len(r['not_ok'])} not ok\n" + table(
        rows, ["account", "ok", "keys", "tokens", "custodians", "problems"])
    emit(fmt, r, human)
    if r["not_ok"]:
        raise Flagged(f"{len(r['not_ok'])} account(s) without enough working keys")
