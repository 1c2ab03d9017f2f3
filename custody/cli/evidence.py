"""``custody evidence build|verify|sign|render|keygen``: the evidence pack, one signed file for an auditor.

``build`` asks the custody server, which gathers its records and the audit logs and signs with its Vault transit
key (or answers unsigned for ``--key``, a local key kept off-line). ``verify``, ``sign``, ``render`` and
``keygen`` are local: they need the file and keys only (``verify --vault`` asks custody for the transit key's
public half). Every file is written whole or not at all. The format is ``custody.evidence`` (docs/evidence.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import click

from custody.cli.common import client, fmt_option
from custody.cli.output import emit, printable
from custody.errors import ValidationError

FILE = click.Path(path_type=Path, dir_okay=False)
READABLE = click.Path(path_type=Path, dir_okay=False, exists=True)


@click.group()
def evidence() -> None:
    """Evidence packs: what custody knows of a period, in one signed file (docs/evidence.md)."""


def write_atomically(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` whole or not at all: a temporary file beside it, synced, then renamed."""
    where = path.resolve().parent
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=where)
    except OSError as exc:
        raise ValidationError(f"cannot write {path}: {exc.strerror or exc}",
                              hint="choose an --out in a directory you may write to") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ValidationError(f"cannot write {path}: {exc.strerror or exc}", hint="nothing was written") from None


def _writable(path: Path) -> None:
    """Refuse an --out that cannot be written before any work is done."""
    where = path.resolve().parent
    if path.is_dir():
        raise ValidationError(f"{path} is a directory", hint="--out names the file to write")
    if not where.is_dir() or not os.access(where, os.W_OK):
        raise ValidationError(f"cannot write {path}: {where} is not a directory you may write to",
                              hint="choose an --out in a directory you may write to")


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ValidationError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def _summary(env: dict[str, Any], out: Path) -> dict[str, Any]:
    from custody.evidence import dsse
    from custody.evidence.statement import parse_statement

    parsed = dsse.parse(json.dumps(env).encode())
    stmt = parse_statement(parsed.payload)
    controls = stmt["predicate"]["controls"]
    return {"out": str(out), "period": stmt["predicate"]["period"],
            "signatures": [s.keyid for s in parsed.signatures],
            "controls": [{k: c[k] for k in ("framework", "control", "status")} for c in controls]}


def _summary_text(s: dict[str, Any]) -> str:
    counts = {st: sum(1 for c in s["controls"] if c["status"] == st) for st in ("pass", "fail", "not-applicable")}
    lines = [f"wrote {s['out']}: period {s['period']['start']} to {s['period']['end']}",
             f"  controls: {counts['pass']} pass, {counts['fail']} fail, {counts['not-applicable']} not applicable"]
    lines += [f"    {c['status']:<15} {c['framework']} {c['control']}" for c in s["controls"]]
    lines += [f"  signed by {k}" for k in s["signatures"]] or ["  not signed yet: custody evidence sign FILE --key K"]
    return "\n".join(lines)


@evidence.command("build")
@click.option("--period", required=True, help="START/END, e.g. 2026-01-01/2026-12-31 (UTC; END included)")
@click.option("--log", "logs", multiple=True, help="an audit log the server reads (path or file name; default: all)")
@click.option("--inventory", type=READABLE, default=None, help="an inventory report (JSON) to include")
@click.option("--out", type=FILE, required=True, help="the file to write")
@click.option("--sign", "sign", type=click.Choice(["vault"]), default=None,
              help="sign with custody's Vault transit key (the default without --key)")
@click.option("--key", type=READABLE, default=None, help="sign with this Ed25519 key file instead (air-gapped)")
@fmt_option
def build(period: str, logs: tuple[str, ...], inventory: Path | None, out: Path, sign: str | None,
          key: Path | None, fmt: str) -> None:
    """Build the evidence pack of PERIOD into --out: custody gathers and signs it (or --key signs it here)."""
    from custody.evidence import dsse
    from custody.evidence.keys import LocalSigner

    _writable(out)
    signer = LocalSigner(_read(key, "the key file"), str(key)) if key else None
    body: dict[str, Any] = {"period": period, "logs": list(logs), "sign": signer is None or sign == "vault"}
    if inventory is not None:
        text = _read(inventory, "the inventory")
        try:
            body |= {"inventory": text.decode("utf-8"), "inventory_name": inventory.name}
        except UnicodeDecodeError:
            raise ValidationError(f"the inventory {inventory} is not UTF-8 JSON") from None
    answer = client().call("POST", "evidence/build", json=body)
    env = dsse.parse(json.dumps(answer["data"]["envelope"]).encode())
    if signer is not None:
        env = dsse.sign(env, [signer])
    write_atomically(out, env.dumps())
    summary = _summary(env.as_json(), out)
    emit(fmt, summary, _summary_text(summary))


def _keys(public_keys: tuple[Path, ...], vault: bool) -> list[Any]:
    from custody.evidence.keys import load_public

    keys = [load_public(_read(p, "the public key"), str(p)) for p in public_keys]
    if vault:
        for k in client().call("GET", "evidence/keys")["data"]["keys"]:
            keys.append(load_public(str(k["public_key"]).encode(), str(k["name"])))
    return keys


@evidence.command("verify")
@click.argument("file", type=READABLE)
@click.option("--public-key", "public_keys", type=READABLE, multiple=True, help="a PEM public key to trust")
@click.option("--vault", is_flag=True, help="trust custody's Vault transit key (every version)")
@click.option("--log", "logs", type=READABLE, multiple=True, help="an audit log the pack must have been built from")
@fmt_option
def verify(file: Path, public_keys: tuple[Path, ...], vault: bool, logs: tuple[Path, ...], fmt: str) -> None:
    """Check FILE's signatures (and that each --log is a file it was built from): `valid`, or what failed."""
    from custody.evidence import dsse
    from custody.evidence.statement import check_logs, parse_statement

    if not public_keys and not vault:
        raise ValidationError("no key to verify with", hint="pass --public-key PEM (repeatable) or --vault")
    env = dsse.parse(_read(file, "the pack"))
    result = dsse.verify(env, _keys(public_keys, vault))
    stmt = parse_statement(env.payload)
    checked = check_logs(stmt, [(str(p), hashlib.sha256(_read(p, "the audit log")).hexdigest()) for p in logs])
    period = stmt["predicate"]["period"]
    data = {"valid": True, "signers": list(result.signers), "unchecked": list(result.unchecked),
            "period": period, "logs": checked, "built_by": stmt["predicate"]["inputs"].get("built_by")}
    lines = [f"valid: signed by {', '.join(printable(s) for s in result.signers)}",
             f"  period: {period['start']} to {period['end']}"]
    lines += [f"  log {printable(n)}: matches the pack" for n in checked]
    lines += [f"  not checked (no key given): {k}" for k in result.unchecked]
    emit(fmt, data, "\n".join(lines))


@evidence.command("sign")
@click.argument("file", type=READABLE)
@click.option("--key", type=READABLE, required=True, help="your Ed25519 key file (custody evidence keygen)")
@click.option("--out", type=FILE, default=None, help="write here instead of over FILE")
@fmt_option
def sign_pack(file: Path, key: Path, out: Path | None, fmt: str) -> None:
    """Add a signature to FILE with --key (a co-signature: the security lead's, the auditor's)."""
    from custody.evidence import dsse
    from custody.evidence.keys import LocalSigner

    target = out or file
    _writable(target)
    env = dsse.parse(_read(file, "the pack"))
    signer = LocalSigner(_read(key, "the key file"), str(key))
    env = dsse.sign(env, [signer])
    write_atomically(target, env.dumps())
    emit(fmt, {"out": str(target), "keyid": signer.keyid, "signatures": len(env.signatures)},
         f"signed {target} with {signer.keyid} ({len(env.signatures)} signatures)")


@evidence.command("keygen")
@click.option("--out", type=FILE, required=True, help="the private key file to write (the public key: OUT.pub)")
@fmt_option
def keygen(out: Path, fmt: str) -> None:
    """Make an Ed25519 key pair for signing packs off-line: OUT (private, mode 0600) and OUT.pub."""
    from custody.evidence.keys import generate, keyid, load_public

    public = out.with_name(out.name + ".pub")
    for path in (out, public):
        if path.exists():
            raise ValidationError(f"{path} exists already", hint="choose another --out; a key is never overwritten")
    _writable(out)
    private_pem, public_pem = generate()
    write_atomically(public, public_pem.encode())
    write_atomically(out, private_pem, mode=0o600)
    kid = keyid(load_public(public_pem.encode(), str(public)).key)
    emit(fmt, {"private_key": str(out), "public_key": str(public), "keyid": kid},
         f"wrote {out} (private: keep it off-line) and {public} (give it to verifiers)\n  key id {kid}")


@evidence.command("render")
@click.argument("file", type=READABLE)
@click.option("--format", "fmt", type=click.Choice(["html", "markdown", "json"]), default="markdown",
              show_default=True, help="json: the statement the pack carries, decoded")
@click.option("--out", type=FILE, default=None, help="write here instead of to stdout")
def render(file: Path, fmt: str, out: Path | None) -> None:
    """FILE for people: the controls first, then the raw sections (signatures are not checked: use verify).
    ``--format json`` prints the decoded statement, for scripts."""
    from custody.evidence import dsse
    from custody.evidence import render as pages
    from custody.evidence.statement import parse_statement

    env = dsse.parse(_read(file, "the pack"))
    stmt = parse_statement(env.payload)
    if fmt == "json":
        text = json.dumps(stmt, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    else:
        text = pages.html(stmt, env) if fmt == "html" else pages.markdown(stmt, env)
    if out is None:
        click.echo(text, nl=False)
    else:
        _writable(out)
        write_atomically(out, text.encode("utf-8"))
