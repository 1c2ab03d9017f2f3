"""``custody``: the command line. ``main(argv)`` is the one exit point: errors become a message on stderr
(with a hint) and a non-zero exit code; ``--format json`` prints JSON only on stdout."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from custody import logging as clog
from custody.cli.client import Client
from custody.cli.common import account_path, fmt_option, grant_path, read_codes, run, settings_error
from custody.cli.output import emit, table
from custody.config import check_log_level, client_token
from custody.errors import CustodyError, ValidationError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="custody")
def cli() -> None:
    """Break-glass custody of account recovery codes, kept in Vault/OpenBao.

    The server comes from CUSTODY_ADDR, your Vault token from VAULT_TOKEN, BAO_TOKEN or ~/.vault-token.
    """


# ---- dev ---------------------------------------------------------------------------------------------------
@cli.group()
def dev() -> None:
    """A local OpenBao + custody server for trying custody out (not for production)."""


@dev.command("up")
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=Path(".custody-dev"),
              show_default=True, help="where state, logs and the audit log live")
@click.option("--ha", is_flag=True, help="a 3-node OpenBao Raft cluster and 2 custody replicas instead")
@fmt_option
def dev_up(directory: Path, ha: bool, fmt: str) -> None:
    """Start OpenBao (with a file audit device) and the custody server, bootstrapped, with demo users."""
    from custody import devstack

    view = devstack.up(directory, ha=ha)
    lines = [f"export CUSTODY_ADDR={view['custody_addr']}", f"export VAULT_ADDR={view['vault_addr']}",
             f"# audit log: {view['audit_log']}", "# demo identities (export one as VAULT_TOKEN):"]
    lines += [f"export {name.upper()}_TOKEN={tok}" for name, tok in view["tokens"].items()]
    lines += ["# e.g.  VAULT_TOKEN=$SECURITY_TOKEN custody accounts list", f"# stop with: custody dev down "
              f"--dir {view['dir']}"]
    emit(fmt, view, "\n".join(lines))


@dev.command("down")
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=None,
              help="the stack's directory [default: ./.custody-dev if a stack runs there, else the one you started]")
@fmt_option
def dev_down(directory: Path | None, fmt: str) -> None:
    """Stop what `custody dev up` started (does nothing if nothing runs)."""
    from custody import devstack

    stopped = devstack.down(directory)
    emit(fmt, {"stopped": True, "dir": str(stopped)} if stopped else {"stopped": False},
         f"stopped the dev stack in {stopped}" if stopped else "nothing was running")


# ---- server ------------------------------------------------------------------------------------------------
@cli.command()
@click.option("--config", "config", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              envvar="CUSTODY_CONFIG", help="an env-style file of CUSTODY_* settings (the environment wins)")
def serve(config: Path | None) -> None:
    """Run the API server (configuration from the environment and --config: see docs/operations.md)."""
    import pydantic

    from custody.config import ServerSettings
    from custody.server import run

    try:
        settings = ServerSettings(_env_file=config) if config else ServerSettings()
    except pydantic.ValidationError as exc:
        raise settings_error(exc, "server setting", ServerSettings) from None
    except (OSError, ValueError) as exc:  # the --config file: unreadable, not UTF-8, not env-style
        raise ValidationError(f"cannot read the settings file {config}: {type(exc).__name__}",
                              hint="--config takes an env-style file of CUSTODY_*=value lines, in UTF-8") from None
    run(settings)


@cli.command("bootstrap")
@click.option("--vault-addr", envvar=["VAULT_ADDR", "BAO_ADDR"], required=True, help="Vault/OpenBao address")
@click.option("--mount", default="custody-kv", show_default=True, help="KV v2 mount for custody state")
@click.option("--ca-cert", envvar=["VAULT_CACERT", "BAO_CACERT"], type=click.Path(exists=True), default=None,
              help="CA bundle that signed Vault's TLS certificate")
@click.option("--service-cidr", multiple=True,
              help="CIDR the custody server logs in from (repeatable; `any` removes the binding; default: keep what "
                   "the role has)")
@click.option("--rotation-cidr", multiple=True,
              help="CIDR the rotation cron logs in from (repeatable; `any` removes the binding; default: keep what "
                   "the role has)")
@click.option("--secret-id-ttl", default=None,
              help="lifetime of new secret_ids, 0 for no expiry (default: keep what the role has; 0 for a new role)")
@click.option("--rotate-secret-ids", is_flag=True, help="mint a new secret_id for every AppRole, not only new ones")
@click.option("--no-secret-ids", is_flag=True, help="do not mint any AppRole secret_id")
@click.option("--dry-run", is_flag=True, help="print what would change, change nothing")
@fmt_option
def bootstrap_cmd(vault_addr: str, mount: str, ca_cert: str | None, service_cidr: tuple[str, ...],
                  rotation_cidr: tuple[str, ...], secret_id_ttl: str | None, rotate_secret_ids: bool,
                  no_secret_ids: bool,
                  dry_run: bool, fmt: str) -> None:
    """Set up a Vault/OpenBao for custody (idempotent). Needs an admin token in VAULT_TOKEN.

    Prints the AppRoles' role ids, and a secret_id for each AppRole it creates (only then: store it at once).
    """
    from custody.bootstrap import Admin, Options, bootstrap, plan, ttl_seconds

    if rotate_secret_ids and no_secret_ids:
        raise ValidationError("--rotate-secret-ids and --no-secret-ids contradict each other")
    def cidrs(given: tuple[str, ...]) -> tuple[str, ...] | None:
        return None if not given else () if given == ("any",) else given  # "any": remove the binding

    opts = Options(mount=mount, service_cidrs=cidrs(service_cidr), rotation_cidrs=cidrs(rotation_cidr),
                   secret_id_ttl=None if secret_id_ttl is None else ttl_seconds(secret_id_ttl),
                   secret_ids="all" if rotate_secret_ids else "none" if no_secret_ids else "new")
    token = client_token()
    if dry_run and not token:
        steps = plan(mount)
        emit(fmt, {"dry_run": True, "steps": steps}, "\n".join(f"- {s}" for s in ["(no token: the full plan)", *steps]))
        return
    if not token:
        raise ValidationError("no admin token", hint="set VAULT_TOKEN to a token that may configure Vault")
    result = bootstrap(Admin(vault_addr, token, verify=ca_cert or True), options=opts, dry_run=dry_run)
    verb = "would" if dry_run else "did"
    lines = [f"{'dry run: ' if dry_run else ''}custody at {vault_addr} (mount {mount}/): "
             f"{result['changed']} change(s)"]
    lines += [f"  {c['action'] if c['action'] == 'unchanged' else verb + ' ' + c['action']:>12}  {c['step']}"
              for c in result["changes"]]
    for role, creds in result["approles"].items():
        lines.append(f"{role}: role_id={creds['role_id']}")
        if "secret_id" in creds:
            lines.append(f"{role}: secret_id={creds['secret_id']}  (shown once: store it now)")
        else:
            lines.append(f"{role}: secret_id unchanged (--rotate-secret-ids mints a new one)")
    emit(fmt, result, "\n".join(lines))


# ---- accounts ----------------------------------------------------------------------------------------------
@cli.group()
def accounts() -> None:
    """Accounts whose recovery codes custody keeps."""


@accounts.command("add")
@click.argument("account")
@click.option("--owner", required=True, help="email of the person or team that owns the account")
@click.option("--tier", type=click.Choice(["standard", "critical"]), default="standard", show_default=True)
@click.option("--approvals", type=click.IntRange(0, 5), default=None,
              help="approvals a reveal needs (default: 0 standard, 2 critical)")
@click.option("--notes", default="", help="free-form notes")
@fmt_option
def accounts_add(account: str, owner: str, tier: str, approvals: int | None, notes: str, fmt: str) -> None:
    """Register ACCOUNT (e.g. pypi/acme-publisher)."""
    body = {"owner": owner, "tier": tier, "approvals": approvals, "notes": notes}
    data = Client().call("POST", f"accounts/{account_path(account)}", body)["data"]
    emit(fmt, data, f"added {data['id']} (owner {data['owner']}, {data['tier']}, "
                    f"{data['approvals_required']} approval(s) per reveal)")


@accounts.command("list")
@fmt_option
def accounts_list(fmt: str) -> None:
    rows = Client().call("GET", "accounts", params={"list": "true"})["data"]["accounts"]
    emit(fmt, rows, table(rows, ["id", "owner", "tier", "approvals_required"]))


@accounts.command("show")
@click.argument("account")
@fmt_option
def accounts_show(account: str, fmt: str) -> None:
    emit(fmt, Client().call("GET", f"accounts/{account_path(account)}")["data"])


# ---- codes -------------------------------------------------------------------------------------------------
@cli.group()
def codes() -> None:
    """Deposit, rotate and count an account's recovery codes (custody never prints them here)."""


@codes.command("deposit")
@click.argument("account")
@click.option("--file", "file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="file with one code per line (default: stdin)")
@click.option("--replace", is_flag=True, help="replace codes already deposited")
@fmt_option
def codes_deposit(account: str, file: Path | None, replace: bool, fmt: str) -> None:
    """Deposit ACCOUNT's recovery codes (1-8 for PyPI), read from --file or stdin."""
    path = f"accounts/{account_path(account)}/codes"
    data = Client().call("POST", path, {"codes": read_codes(file), "replace": replace})
    emit(fmt, data["data"], f"deposited {data['data']['total']} codes for {account}")


@codes.command("status")
@click.argument("account", required=False)
@fmt_option
def codes_status(account: str | None, fmt: str) -> None:
    """Remaining codes, age and depositor, per account. Never the codes."""
    path = f"accounts/{account_path(account)}/codes" if account else None
    client = Client()
    if path:
        rows = [client.call("GET", path)["data"]]
    else:
        rows = client.call("GET", "codes", params={"list": "true"})["data"]["accounts"]
    out = rows[0] if account and fmt == "json" else rows
    text = table(rows, ["account", "remaining", "total", "age_days", "deposited_by", "rotation_due"])
    for row in rows:  # an open rotation is the one thing here that asks for action now
        if rot := row.get("interrupted_rotation"):
            text += (f"\n{row['account']}: rotation #{rot.get('rotation')} started by {rot.get('actor')} at "
                     f"{rot.get('started_at')} has not finished; if it was interrupted, finish it with "
                     f"`custody codes rotate {row['account']} --resume`")
    emit(fmt, out, text)


# ---- access ------------------------------------------------------------------------------------------------
@cli.group()
def access() -> None:
    """Break-glass: request, approve, reveal."""


def _grant_text(g: dict[str, Any]) -> str:
    approvals = ", ".join(a["approver"] for a in g.get("approvals") or []) or "none"
    lines = [
        f"grant {g['id']}  [{g['status']}]{'  EMERGENCY' if g.get('emergency') else ''}",
        f"  account:   {g['account']}",
        f"  requester: {g['requester']}",
        f"  reason:    {g['reason']}",
        f"  ticket:    {g.get('ticket') or '-'}",
        f"  approvals: {len(g.get('approvals') or [])}/{g['approvals_required']} ({approvals})",
        f"  expires:   {g['expires_at']}",
    ]
    return "\n".join(lines)


@access.command("request")
@click.argument("account")
@click.option("--reason", required=True, help="why you need a code (at least 20 characters)")
@click.option("--ticket", default=None, help="incident or ticket id")
@click.option("--ttl", default=None, help="how long the grant stays usable, e.g. 1h (default 24h)")
@click.option("--emergency", is_flag=True, help="skip approvals (needs the custody-emergency policy; reviewed later)")
@fmt_option
def access_request(account: str, reason: str, ticket: str | None, ttl: str | None, emergency: bool,
                   fmt: str) -> None:
    """Ask for one recovery code of ACCOUNT."""
    body = {"reason": reason, "ticket": ticket, "ttl": ttl, "emergency": emergency}
    g = Client().call("POST", f"accounts/{account_path(account)}/grants", body)["data"]
    nxt = (f"next: custody access reveal {g['id']}" if g["status"] == "approved"
           else f"next: an approver runs `custody access approve {g['id']}`")
    emit(fmt, g, _grant_text(g) + "\n" + nxt)


def _decision_cmd(action: str, doc: str) -> None:
    @access.command(action, help=doc)
    @click.argument("grant")
    @click.option("--comment", default=None)
    @fmt_option
    def command(grant: str, comment: str | None, fmt: str) -> None:
        g = Client().call("POST", f"grants/{grant_path(grant)}/{action}", {"comment": comment})["data"]
        emit(fmt, g, _grant_text(g))


_decision_cmd("approve", "Approve GRANT (not your own).")
_decision_cmd("deny", "Deny GRANT.")
_decision_cmd("review", "Record the post-hoc review of emergency GRANT.")


@access.command("reveal")
@click.argument("grant")
@fmt_option
def access_reveal(grant: str, fmt: str) -> None:
    """Take GRANT's code: custody answers with a single-use wrapping token, unwrapped here with your token."""
    path = f"grants/{grant_path(grant)}/reveal"
    client = Client()
    resp = client.call("POST", path)
    data, wrap = resp["data"], resp["wrap_info"]
    vault_addr = (os.environ.get("CUSTODY_VAULT_ADDR") or data.get("vault_addr") or os.environ.get("VAULT_ADDR")
                  or os.environ.get("BAO_ADDR") or "")
    secret = client.unwrap(vault_addr, wrap["token"])
    code = secret.get("code")
    if not code:
        raise CustodyError("the unwrapped answer held no code", hint="tell the security team")
    out = {"grant": data["grant"], "account": data["account"], "code": code, "remaining": data["remaining"]}
    emit(fmt, out, f"{code}\n\n(one-time recovery code for {data['account']}; {data['remaining']} left. "
                   "Use it now; it is burned once used.)")


@access.command("list")
@click.option("--status", default=None, help="pending, approved, denied, revealed, expired or revoked")
@click.option("--account", default=None)
@click.option("--unreviewed", is_flag=True, help="only emergency grants nobody has reviewed yet")
@fmt_option
def access_list(status: str | None, account: str | None, unreviewed: bool, fmt: str) -> None:
    """Grants you may see (a requester sees their own)."""
    params = {"list": "true", **({"status": status} if status else {}), **({"account": account} if account else {}),
              **({"unreviewed": "true"} if unreviewed else {})}
    rows = Client().call("GET", "grants", params=params)["data"]["grants"]
    emit(fmt, rows, table(rows, ["id", "account", "requester", "status", "emergency", "created_at"]))


@access.command("show")
@click.argument("grant")
@fmt_option
def access_show(grant: str, fmt: str) -> None:
    g = Client().call("GET", f"grants/{grant_path(grant)}")["data"]
    emit(fmt, g, _grant_text(g))


@cli.command()
@fmt_option
def whoami(fmt: str) -> None:
    """Who custody thinks you are (from your Vault token)."""
    emit(fmt, Client().call("GET", "whoami")["data"])


def _add_feature_commands() -> None:
    """Command groups that live in their own modules (rotation, audit)."""
    import importlib

    for module in FEATURE_COMMANDS:
        importlib.import_module(module).attach(cli)


FEATURE_COMMANDS: list[str] = ["custody.cli.rotation_cmds", "custody.auditlog.cli", "custody.cli.inventory"]
_add_feature_commands()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code. Only here do errors turn into messages and exit codes."""
    # Logs go to stderr, so that stdout carries nothing but the command's answer (JSON with --format json).
    try:
        level = check_log_level(os.environ.get("CUSTODY_CLI_LOG_LEVEL") or "warning")
    except ValueError as exc:
        click.echo(f"error: invalid CUSTODY_CLI_LOG_LEVEL: {exc}", err=True)
        return 1
    clog.configure("console", level)
    return run(cli, argv, "custody")

if __name__ == "__main__":
    raise SystemExit(main())
