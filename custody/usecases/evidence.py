"""The evidence pack of a period: gather custody's records and the audit logs, draw the controls, sign.

Who may: ``custody/evidence/build`` (update) and ``custody/evidence/keys`` (read), held by the security team and
the auditors. The service reads the audit logs it was configured with (``CUSTODY_AUDIT_LOGS``, as the audit
summary does: a caller names which of them, never another file), reads custody's records with its own token, and
signs with the Vault transit key ``custody-transit/keys/custody-evidence`` that only its policy may sign with.
With ``sign=False`` it answers the envelope unsigned, for a key kept off-line to sign
(``custody evidence build --key``). The pack's format and the controls are ``custody.evidence``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from custody import __version__
from custody.domain import drills as drill_rules
from custody.domain.events import Event
from custody.domain.models import Account
from custody.errors import NotFound, StoreError, ValidationError
from custody.evidence import TRANSIT_KEY, TRANSIT_MOUNT
from custody.evidence.controls import evaluate
from custody.evidence.dsse import Envelope, Signature
from custody.evidence.keys import from_raw
from custody.evidence.statement import Period, parse_period, payload_bytes, statement, subject
from custody.fanout import concurrently
from custody.logging import get_logger
from custody.usecases.audit import audit_paths
from custody.usecases.codes import Codes
from custody.usecases.context import UseCase
from custody.usecases.keys import all_verdicts, roster_json
from custody.usecases.people import People

log = get_logger("custody.evidence")
MAX_INVENTORY_BYTES = 48 * 1024  # it travels in the request body, which the server caps at 64 KiB


class TransitSigner(Protocol):
    """Vault's transit engine, as the service's own token reaches it (``custody.store.Store``)."""

    def transit_sign(self, mount: str, key: str, data: bytes) -> tuple[int, bytes]: ...

    def transit_public_keys(self, mount: str, key: str) -> dict[int, bytes]: ...


def _no_key(mount: str, key: str) -> NotFound:
    return NotFound(f"the evidence signing key {mount}/keys/{key} does not exist in Vault",
                    hint="run `custody bootstrap` (or `terraform apply`) to create it, or build with "
                         "`custody evidence build --key KEYFILE` and sign with a local key")


@dataclass(frozen=True)
class Evidence(UseCase):
    codes: Codes
    people: People
    signer: TransitSigner | None = None
    logs: tuple[str, ...] = ()  # the audit-device files this server reads (paths or globs)
    transit_mount: str = TRANSIT_MOUNT
    transit_key: str = TRANSIT_KEY

    def build(self, token: str, period_text: str, logs: list[str], inventory: str | None = None,
              inventory_name: str = "inventory.json", sign: bool = True) -> dict[str, Any]:
        """The pack of ``period_text`` as a DSSE envelope (JSON), signed with the transit key unless not ``sign``."""
        who = self.authz.authorize(token, "evidence/build", "update")
        period = parse_period(period_text)
        paths = self._chosen_logs(logs)
        digests = [_digest(p) for p in paths]
        stock = _inventory(inventory, inventory_name) if inventory is not None else None
        access = self._access(paths, period)
        now = self.ctx.clock()
        predicate = {
            "period": period.as_json(),
            "inputs": {"audit_logs": digests, "inventory": {k: v for k, v in (stock or {}).items() if k != "report"}
                       or None, "custody_version": __version__, "built_at": now.isoformat(),
                       "built_by": {"display_name": who.display_name, "entity_id": who.entity_id or who.id}},
            **self._records(token, period, now),
            "access": access,
            "inventory": stock["report"] if stock else None,
        }
        predicate["controls"] = evaluate(predicate)
        subjects = [subject(d["name"], d["sha256"]) for d in digests]
        if stock:
            subjects.append(subject(stock["name"], stock["sha256"]))
        envelope = Envelope(payload_bytes(statement(subjects, predicate)))
        if sign:
            envelope = envelope.with_signature(self._sign(envelope.signed_bytes()))
        failed = [f"{c['framework']} {c['control']}" for c in predicate["controls"] if c["status"] == "fail"]
        log.info(Event.evidence_built, actor=who.display_name, period=period.text(), logs=len(paths),
                 signed=sign, failed=failed)
        self.ctx.notify(Event.evidence_built, actor=who.display_name, period=period.text(), failed=failed)
        return envelope.as_json()

    def public_keys(self, token: str) -> list[dict[str, Any]]:
        """Every version of the transit key's public half: what ``custody evidence verify --vault`` trusts."""
        self.authz.authorize(token, "evidence/keys", "read")
        from custody.evidence.keys import public_pem

        found = []
        for version, raw in sorted(self._transit().transit_public_keys(self.transit_mount, self.transit_key).items()):
            key = from_raw(raw, f"vault:{self.transit_mount}/{self.transit_key}:v{version}")
            found.append({"name": key.name, "keyid": key.keyid, "version": version, "public_key": public_pem(key.key)})
        return found

    # ---- the stages -------------------------------------------------------------------------------------------
    def _transit(self) -> TransitSigner:
        if self.signer is None:
            raise _no_key(self.transit_mount, self.transit_key)
        return self.signer

    def _sign(self, data: bytes) -> Signature:
        signer = self._transit()
        try:
            version, sig = signer.transit_sign(self.transit_mount, self.transit_key, data)
            raw = signer.transit_public_keys(self.transit_mount, self.transit_key)[version]
        except NotFound:
            raise _no_key(self.transit_mount, self.transit_key) from None
        except StoreError as exc:
            if "not found" in exc.message:
                raise _no_key(self.transit_mount, self.transit_key) from None
            raise
        except KeyError:
            raise StoreError("Vault signed with a key version it does not list") from None
        return Signature(from_raw(raw, "the transit key").keyid, sig)

    def _chosen_logs(self, names: list[str]) -> list[Path]:
        """The configured logs a caller named (by path or file name), or all of them; never another file."""
        configured = audit_paths(self.logs)
        if not configured:
            raise NotFound("this server reads no audit logs",
                           hint="set CUSTODY_AUDIT_LOGS on the server to the files the Vault audit device writes")
        if not names:
            chosen = configured
        else:
            chosen = []
            for name in names:
                match = [p for p in configured if name in (str(p), p.name)]
                if not match:
                    raise ValidationError(f"{name!r} is not one of the audit logs this server reads",
                                          hint="name one of: " + ", ".join(p.name for p in configured))
                chosen.extend(m for m in match if m not in chosen)
        for path in chosen:
            _check_audit_log(path)
        return chosen

    def _access(self, paths: list[Path], period: Period) -> dict[str, Any]:
        from custody.auditlog import AuditReadError, render, summarize
        from custody.auditlog.timeparse import to_dt

        try:
            summary = summarize(paths, period.start, period.end, mount=self.repo.kv.mount, workers=1)
        except AuditReadError as exc:
            raise ValidationError(f"cannot read the audit logs: {exc}") from None
        first, last = summary.input.first_entry, summary.input.last_entry
        if not first or to_dt(last) < period.start or to_dt(first) >= period.end:
            covers = f"they run from {first} to {last}" if first else "they hold no custody entry"
            raise ValidationError(f"the audit logs hold nothing of the period {period.text()} ({covers})",
                                  hint="choose a period the logs cover, or add the rotated logs of that period")
        access: dict[str, Any] = json.loads(render(summary, "json"))
        return access

    def _records(self, token: str, period: Period, now: datetime) -> dict[str, Any]:
        """The raw sections from custody's own records: accounts, custody, keys, drills, offboardings."""
        repo = self.repo
        accounts = concurrently(repo.accounts.get, repo.accounts.ids())
        verdicts = all_verdicts(repo, now)
        in_period = [d for d in repo.drills.all() if d.started_at in period]
        report = drill_rules.report(in_period, [a.id for a in accounts], now, self.ctx.settings.drill_target)
        return {
            "accounts": [{"account": a.id, "owner": a.owner, "tier": a.tier.value,
                          "approvals_required": a.approvals_required,
                          "ownership": a.ownership.value if a.ownership else None, "human_owner": a.human_owner,
                          "created_at": a.created_at.isoformat()} for a in accounts],
            "custody": concurrently(lambda a: self._custody(a, period, now), accounts),
            "keys": {"rosters": [roster_json(r) for r in repo.keys.all()],
                     "check": {"at": now.isoformat(), "checked": len(verdicts), "ok": all(v.ok for v in verdicts),
                               "not_ok": [v.account for v in verdicts if not v.ok],
                               "accounts": [v.as_dict() for v in verdicts]}},
            "drills": report,
            "offboardings": self._offboardings(token, period),
        }

    def _custody(self, account: Account, period: Period, now: datetime) -> dict[str, Any]:
        account_id = account.id
        entry = self.repo.codes.get(account_id)
        rotations = []
        for n in range(1, self.repo.rotations.next_number(account_id)):
            found = self.repo.rotations.evidence(account_id, n)
            if found is not None and found.value.started_at in period:
                rotations.append(_jsonable(asdict(found.value)))
        return {"account": account_id, "status": self.codes.row(account, entry.value if entry else None, now),
                "rotations": rotations}

    def _offboardings(self, token: str, period: Period) -> list[dict[str, Any]]:
        people = []
        for email in sorted(self.repo.people.offboarded()):
            person = self.repo.people.get(email)
            runs = [r for r in person.runs if r.at in period] if person else []
            if person is None or not runs:
                continue
            now = self.people.show(token, email)
            people.append({"email": email, "offboarded_at": person.offboarded_at.isoformat(),
                           "offboarded_by": person.offboarded_by, "reason": person.reason,
                           "runs": [r.model_dump(mode="json") for r in runs],
                           "now": {k: now.get(k) for k in ("revoke_grants", "keys", "owned", "rotation_due",
                                                           "checklist")}})
        return people


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _digest(path: Path) -> dict[str, Any]:
    h = hashlib.sha256()
    size = 0
    try:
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
                size += len(chunk)
    except OSError as exc:
        raise ValidationError(f"cannot read the audit log {path.name}: {exc.strerror or exc}") from None
    return {"name": path.name, "sha256": h.hexdigest(), "size": size}


def _check_audit_log(path: Path) -> None:
    """Refuse a file whose first line is not an entry of a Vault/OpenBao file audit device."""
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            first = b""
            while not first.strip():
                line = f.readline(1 << 20)
                if not line:
                    break
                first = line
    except (OSError, EOFError) as exc:
        raise ValidationError(f"cannot read the audit log {path.name}: {exc}") from None
    try:
        entry = json.loads(first)
        ok = isinstance(entry, dict) and entry.get("type") in ("request", "response") and "time" in entry
    except ValueError:
        ok = False
    if not ok:
        raise ValidationError(f"{path.name} is not a Vault audit log: its first line is not a file audit device "
                              "entry", hint="name the files the Vault/OpenBao file audit device writes")


def _inventory(text: str, name: str) -> dict[str, Any]:
    raw = text.encode("utf-8")
    if len(raw) > MAX_INVENTORY_BYTES:
        raise ValidationError(f"the inventory is larger than {MAX_INVENTORY_BYTES // 1024} KiB",
                              hint="give the report of the accounts in scope (custody inventory report --format json)")
    try:
        report = json.loads(text)
    except ValueError:
        raise ValidationError(f"the inventory {name} is not JSON",
                              hint="give a JSON inventory report (custody inventory report --format json)") from None
    if not isinstance(report, dict):
        raise ValidationError(f"the inventory {name} is not a JSON object")
    return {"name": Path(name).name or "inventory.json", "sha256": hashlib.sha256(raw).hexdigest(),
            "size": len(raw), "report": report}

