"""``custody drill start|finish|list|show|report``: timed recovery drills.

``drill report`` is for cron and CI: exit 0 when nothing is flagged, 3 when something is (a drill over the
target, a failed drill, a participant outside the security team, a drill left open, an account without a passing
drill in a year), 1 when the report could not be made.
"""

from __future__ import annotations

from typing import Any

import click

from custody.cli.common import Flagged, client, fmt_option, segment
from custody.cli.output import emit, printable, table
from custody.errors import ValidationError


@click.group()
def drill() -> None:
    """Recovery drills: rehearse break-glass on an account and time it."""


def drill_path(drill_id: str) -> str:
    from custody.domain.ids import DRILL_ID  # plain re, no pydantic: checked before anything is sent

    if DRILL_ID.fullmatch(drill_id) is None:
        raise ValidationError(f"not a drill id: {drill_id[:40]!r}",
                              hint="drill ids look like dr_ and 12 letters or digits 2-7 (see `custody drill list`)")
    return segment(drill_id)


def _text(d: dict[str, Any]) -> str:
    from custody.reports.drills import duration

    lines = [f"drill {d['id']}  [{d['result'] or d['status']}]",
             f"  account:   {printable(str(d['account']))}",
             f"  scenario:  {printable(str(d['scenario']))}",
             f"  witness:   {printable(str(d.get('witness') or '-'))}",
             f"  started:   {d['started_at']} by {printable(str(d['started_by']))}"]
    if d.get("finished_at"):
        lines.append(f"  finished:  {d['finished_at']} by {printable(str(d['finished_by']))}")
    lines += [f"  time to code:     {duration(d['time_to_code_seconds'])}",
              f"  time to recovery: {duration(d['time_to_recovery_seconds'])}",
              f"  grants:    {', '.join(d['grants']) or 'none yet'}", "  steps:"]
    lines += [f"    {p['at'][:19]}  {printable(str(p['name']))} {p['step']}"
              f"{'' if p['security_team'] else '  (outside the security team)'}" for p in d["participants"]]
    if d["status"] == "open":
        lines.append(f"next: `custody access request {d['account']} --drill {d['id']} --reason ...`, then "
                     f"`custody drill finish {d['id']} --result pass|fail`")
    return "\n".join(lines)


@drill.command("start")
@click.argument("account")
@click.option("--scenario", required=True, help="what is rehearsed, e.g. 'maintainer lost both keys abroad'")
@click.option("--witness", default=None, help="email of someone watching the drill")
@fmt_option
def drill_start(account: str, scenario: str, witness: str | None, fmt: str) -> None:
    """Start a drill of ACCOUNT: the clock starts now. Its id goes on the break-glass request (--drill)."""
    from custody.cli.common import account_path

    account_path(account)  # checked before it is sent
    d = client().call("POST", "drills", {"account": account, "scenario": scenario, "witness": witness})["data"]
    emit(fmt, d, _text(d))


@drill.command("finish")
@click.argument("drill_id", metavar="ID")
@click.option("--result", required=True, type=click.Choice(["pass", "fail"]), help="did the person get back in?")
@click.option("--notes", default=None, help="what happened, what to improve")
@fmt_option
def drill_finish(drill_id: str, result: str, notes: str | None, fmt: str) -> None:
    """Finish drill ID with its result: the clock stops, the time to recovery is recorded."""
    d = client().call("POST", f"drills/{drill_path(drill_id)}/finish", {"result": result, "notes": notes})["data"]
    emit(fmt, d, _text(d))


@drill.command("list")
@fmt_option
def drill_list(fmt: str) -> None:
    """Every drill, oldest first."""
    from custody.reports.drills import duration

    rows = client().call("GET", "drills", params={"list": "true"})["data"]["drills"]
    shown = [r | {"result": r["result"] or r["status"], "recovery": duration(r["time_to_recovery_seconds"])}
             for r in rows]
    emit(fmt, rows, table(shown, ["id", "account", "started_at", "result", "recovery"]))


@drill.command("show")
@click.argument("drill_id", metavar="ID")
@fmt_option
def drill_show(drill_id: str, fmt: str) -> None:
    """Drill ID: scenario, times, and every step of everyone who took part."""
    d = client().call("GET", f"drills/{drill_path(drill_id)}")["data"]
    emit(fmt, d, _text(d))


@drill.command("report")
@click.option("--format", "fmt", type=click.Choice(["markdown", "json", "html"]), default="markdown",
              show_default=True, help="json prints JSON only; html is one self-contained page")
def drill_report(fmt: str) -> None:
    """Drills over the target, failed, with outsiders or left open, and accounts without a passing drill in a
    year. Exit 3 if anything is flagged, 0 otherwise."""
    from custody.reports import drills as render

    r = client().call("GET", "drills/report")["data"]
    if fmt == "json":
        emit("json", r)
    else:
        click.echo(render.markdown(r) if fmt == "markdown" else render.html_page(r), nl=False)
    if not r["ok"]:
        c = r["counts"]
        raise Flagged(f"{c['flagged']} drill(s) flagged, {c['accounts_without_pass']} account(s) without a passing "
                      "drill in 365 days")
