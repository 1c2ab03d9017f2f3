"""``custody bootstrap``: set up a Vault/OpenBao for custody (mount, policies, AppRoles, groups), idempotently."""

from __future__ import annotations

from typing import Any

import click

from custody.cli.common import fmt_option
from custody.cli.output import emit
from custody.cli.settings import client_token
from custody.errors import ValidationError


def _cidrs(given: tuple[str, ...]) -> tuple[str, ...] | None:
    return None if not given else () if given == ("any",) else given  # "any": remove the binding


@click.command("bootstrap")
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
def bootstrap(vault_addr: str, mount: str, ca_cert: str | None, service_cidr: tuple[str, ...],
              rotation_cidr: tuple[str, ...], secret_id_ttl: str | None, rotate_secret_ids: bool,
              no_secret_ids: bool, dry_run: bool, fmt: str) -> None:
    """Set up a Vault/OpenBao for custody (idempotent). Needs an admin token in VAULT_TOKEN.

    Prints the AppRoles' role ids, and a secret_id for each AppRole it creates (only then: store it at once).
    """
    from custody import bootstrap as setup

    if rotate_secret_ids and no_secret_ids:
        raise ValidationError("--rotate-secret-ids and --no-secret-ids contradict each other")
    opts = setup.Options(mount=mount, service_cidrs=_cidrs(service_cidr), rotation_cidrs=_cidrs(rotation_cidr),
                         secret_id_ttl=None if secret_id_ttl is None else setup.ttl_seconds(secret_id_ttl),
                         secret_ids="all" if rotate_secret_ids else "none" if no_secret_ids else "new")
    token = client_token()
    if dry_run and not token:
        steps = setup.plan(mount)
        emit(fmt, {"dry_run": True, "steps": steps}, "\n".join(f"- {s}" for s in ["(no token: the full plan)", *steps]))
        return
    if not token:
        raise ValidationError("no admin token", hint="set VAULT_TOKEN to a token that may configure Vault")
    result = setup.bootstrap(setup.Admin(vault_addr, token, verify=ca_cert or True), options=opts, dry_run=dry_run)
    emit(fmt, result, _text(result, vault_addr, mount, dry_run))


def _text(result: dict[str, Any], vault_addr: str, mount: str, dry_run: bool) -> str:
    where = f"Vault at {vault_addr} for custody (mount {mount}/)"
    if dry_run:
        lines = [f"dry run of setting up {where}: {result['changed']} change(s) to make, none made"]
    else:
        lines = [f"set up {where}: {result['changed']} change(s)"]
    verb = "would" if dry_run else "did"
    lines += [f"  {c['action'] if c['action'] == 'unchanged' else verb + ' ' + c['action']:>12}  {c['step']}"
              for c in result["changes"]]
    for role, creds in result["approles"].items():
        lines.append(f"{role}: role_id={creds['role_id']}")
        if "secret_id" in creds:
            lines.append(f"{role}: secret_id={creds['secret_id']}  (shown once: store it now)")
        else:
            lines.append(f"{role}: secret_id unchanged (--rotate-secret-ids mints a new one)")
    return "\n".join(lines)
