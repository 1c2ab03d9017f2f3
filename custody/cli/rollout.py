"""``custody rollout wave add|status``: enrolment waves, and how far each account has come (computed from what
custody holds: registered, codes deposited, keys ok, drill passed)."""

from __future__ import annotations

import click

from custody.cli.common import client, fmt_option, segment
from custody.cli.output import emit, table
from custody.errors import ValidationError


@click.group()
def rollout() -> None:
    """Enrol accounts in waves and follow each to the end: codes deposited, keys ok, a drill passed."""


@rollout.group("wave")
def wave() -> None:
    """Enrolment waves."""


@wave.command("add", context_settings={"ignore_unknown_options": False})
@click.argument("name")
@click.argument("account_list", nargs=-1, metavar="")
@click.option("--accounts", "accounts_flag", is_flag=True, required=True,
              help="the accounts of the wave follow, e.g. --accounts pypi/a pypi/b (or pypi/a,pypi/b)")
@click.option("--window", default=None, help="when the wave enrols, START/END, e.g. 2026-01-05/2026-01-30")
@fmt_option
def wave_add(name: str, account_list: tuple[str, ...], accounts_flag: bool, window: str | None, fmt: str) -> None:
    """Plan the wave NAME of registered accounts (each account in one wave): --accounts ACCOUNT..."""
    accounts = [a for item in account_list for a in item.split(",") if a]
    if not accounts:
        raise ValidationError("no accounts given", hint="name them after --accounts: --accounts pypi/a pypi/b")
    r = client().call("POST", f"rollout/waves/{segment(name)}", {"accounts": accounts, "window": window})["data"]
    when = f", {r['window_start'][:10]} to {r['window_end'][:10]}" if r.get("window_start") else ""
    emit(fmt, r, f"wave {r['name']}: {len(r['accounts'])} account(s){when}")


@rollout.command("status")
@click.option("--wave", "wave_name", default=None, help="only this wave")
@fmt_option
def rollout_status(wave_name: str | None, fmt: str) -> None:
    """Each account's stage (registered, codes-deposited, keys-ok, drill-passed); counts per wave and overall."""
    r = client().call("GET", "rollout/status", params={"wave": wave_name} if wave_name else None)["data"]
    parts = []
    for w in r["waves"]:
        counts = ", ".join(f"{n} {s}" for s, n in w["counts"].items() if n)
        flags = " (complete)" if w["complete"] else " (LATE: its window has ended)" if w["late"] else ""
        parts.append(f"wave {w['name']}: {counts}{flags}\n" + table(
            [{"account": a["account"], "stage": a["stage"], "missing": "; ".join(a["missing"])} for a in w["accounts"]],
            ["account", "stage", "missing"]))
    overall = ", ".join(f"{n} {s}" for s, n in r["counts"].items() if n) or "no accounts"
    emit(fmt, r, "\n\n".join([*parts, f"overall: {overall} ({r['accounts']} account(s) in {len(r['waves'])} "
                                      "wave(s))"]))
