"""The conclusions of an evidence pack: each control's status, drawn from the raw sections alone.

A control is ``{"framework", "control", "title", "status", "why", "evidence"}``: ``status`` is ``pass``, ``fail``
or ``not-applicable``; ``why`` says in words what decided it; ``evidence`` lists JSON pointers (RFC 6901) into the
statement (``/predicate/access/reveals/3``) at the raw data it rests on, the failing items first. The rules are
plain functions of the predicate, so anyone holding the pack can re-derive every status from it
(docs/evidence.md says what each control means here).

The finding auditors raise most is an access decision without a documented rationale, so a reveal without a
reason, without the approvals its account asks for, or an emergency reveal nobody reviewed fails the controls that
cover access decisions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Status = Literal["pass", "fail", "not-applicable"]
SOC2, ISO = "SOC 2", "ISO/IEC 27001:2022"
MAX_POINTERS = 50  # per control: enough to find the items, bounded for a pack with thousands of reveals

# Anomaly kinds (custody.auditlog.model.AnomalyKind values), by the control they bear on.
ACCESS_BYPASS = ("direct_access", "handout_without_approved_grant", "mount_admin", "unwrap_wrong_principal")
UNIDENTIFIED = ("approval_without_identity", "unwrap_unattributed")
UNREVIEWED = ("emergency_unreviewed",)

Predicate = Mapping[str, Any]


@dataclass(frozen=True)
class Control:
    framework: str
    control: str
    title: str
    status: Status
    why: str
    evidence: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {"framework": self.framework, "control": self.control, "title": self.title, "status": self.status,
                "why": self.why, "evidence": list(self.evidence[:MAX_POINTERS])}


def _ptr(*parts: object) -> str:
    return "/predicate/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


@dataclass(frozen=True)
class Finding:
    """What one rule found: the pointers at failing items, a sentence for them, and the pointers that passed."""

    failed: tuple[str, ...]
    why_failed: str
    checked: tuple[str, ...]
    why_passed: str

    def status(self, applicable: bool = True) -> Status:
        return "fail" if self.failed else "pass" if applicable else "not-applicable"


# ---- the checks over the raw sections ------------------------------------------------------------------------
def _reveals(p: Predicate) -> list[dict[str, Any]]:
    return list((p.get("access") or {}).get("reveals") or [])


def _required(p: Predicate) -> dict[str, int]:
    return {a["account"]: int(a.get("approvals_required") or 0) for a in p.get("accounts") or []}


def _reveal_problems(r: Mapping[str, Any], required: int) -> Iterator[str]:
    """Why one reveal was not a documented, approved access decision (nothing: it was)."""
    if not str(r.get("reason") or "").strip():
        yield "no reason"
    approvers = r.get("approvers") or []
    requester = (r.get("requester") or {}).get("entity_id") or ""
    if requester and any((a.get("approver_entity") or "") == requester for a in approvers):
        yield "approved by its own requester"
    if r.get("emergency"):
        if not r.get("review"):
            yield "emergency access not reviewed"
    elif len(approvers) < required:
        yield f"{len(approvers)} of {required} approvals"
    if r.get("grant_status_at_handout") not in (None, "", "approved", "revealed"):
        yield f"grant was {r.get('grant_status_at_handout')} when the code went out"


def access_decisions(p: Predicate) -> Finding:
    required = _required(p)
    failed: list[str] = []
    checked: list[str] = []
    notes: list[str] = []
    for i, r in enumerate(_reveals(p)):
        problems = list(_reveal_problems(r, required.get(str(r.get("account")), 0)))
        (failed if problems else checked).append(_ptr("access", "reveals", i))
        if problems and len(notes) < 5:
            account = r.get("account") or "an unnamed account"
            notes.append(f"{r.get('grant_id') or 'a grant'} on {account}: {', '.join(problems)}")
    n = len(failed) + len(checked)
    return Finding(tuple(failed), f"{len(failed)} of {n} reveals lack a documented, approved decision ("
                   + "; ".join(notes) + ")", tuple(checked),
                   f"every one of the {n} reveals had a written reason and the approvals its account requires "
                   "(an emergency one, a review afterwards)")


def _anomalies(p: Predicate, kinds: Sequence[str]) -> tuple[list[str], int]:
    """Pointers at the listed anomalies of these kinds, and how many there were in all (listed or counted)."""
    access = p.get("access") or {}
    ptrs = [_ptr("access", "anomalies", i) for i, a in enumerate(access.get("anomalies") or [])
            if a.get("kind") in kinds]
    groups = [(i, g) for i, g in enumerate((access.get("not_listed") or {}).get("anomalies") or [])
              if g.get("kind") in kinds]
    total = len(ptrs) + sum(max(int(g.get("total") or 0) - int(g.get("listed") or 0), 0) for _, g in groups)
    return ptrs + [_ptr("access", "not_listed", "anomalies", i) for i, _ in groups], total


def no_anomalies(p: Predicate, kinds: Sequence[str], what: str) -> Finding:
    ptrs, total = _anomalies(p, kinds)
    return Finding(tuple(ptrs), f"the audit logs show {total} {what} ({', '.join(kinds)})", (_ptr("access"),),
                   f"the audit logs of the period show no {what}")


def identities(p: Predicate) -> Finding:
    failed: list[str] = []
    for i, r in enumerate(_reveals(p)):
        if not (r.get("requester") or {}).get("entity_id") or any(
                not a.get("approver_entity") for a in r.get("approvers") or []):
            failed.append(_ptr("access", "reveals", i))
    ownerless = [_ptr("accounts", i) for i, a in enumerate(p.get("accounts") or []) if not a.get("owner")
                 or (a.get("ownership") == "service" and not a.get("human_owner"))]
    anomalies, total = _anomalies(p, UNIDENTIFIED)
    bad = failed + ownerless + anomalies
    counts = [(len(failed), "reveals requested or approved by a token without a Vault identity"),
              (len(ownerless), "accounts without an accountable person"), (total, "unattributed calls")]
    return Finding(tuple(bad), ", ".join(f"{n} {what}" for n, what in counts if n),
                   (_ptr("accounts"), _ptr("access", "principals")),
                   "every requester and approver was a Vault identity and every account names the person who "
                   "answers for it")


def mfa(p: Predicate) -> Finding:
    check = (p.get("keys") or {}).get("check") or {}
    verdicts = check.get("accounts") or []
    bad = [_ptr("keys", "check", "accounts", i) for i, v in enumerate(verdicts) if not v.get("ok")]
    return Finding(tuple(bad), f"{len(bad)} of {len(verdicts)} accounts lack two working WebAuthn keys held by "
                   "named custodians (keys check)", (_ptr("keys", "check"),),
                   f"each of the {len(verdicts)} accounts has at least two WebAuthn keys on distinct tokens, each "
                   "held by a named custodian (keys check)")


def recovery_codes(p: Predicate) -> Finding:
    rows = p.get("custody") or []
    bad = []
    for i, row in enumerate(rows):
        status = row.get("status") or {}
        unfinished = [j for j, r in enumerate(row.get("rotations") or []) if r.get("status") != "completed"]
        if not status.get("total") or status.get("overdue") or status.get("interrupted_rotation") or unfinished:
            bad.append(_ptr("custody", i))
    return Finding(tuple(bad), f"{len(bad)} of {len(rows)} accounts have no codes in custody, are overdue for "
                   "rotation, or have a rotation left unfinished", (_ptr("custody"),),
                   f"each of the {len(rows)} accounts has its recovery codes in custody, none overdue for rotation, "
                   "every rotation of the period completed")


def removals(p: Predicate) -> Finding:
    bad: list[str] = []
    seen: list[str] = []
    for i, person in enumerate(p.get("offboardings") or []):
        now = person.get("now") or {}
        left = [k for k in now.get("keys") or [] if k.get("status") != "custodian_left"]
        if now.get("revoke_grants") or left or now.get("owned"):
            bad.append(_ptr("offboardings", i))
        else:
            seen.append(_ptr("offboardings", i))
    n = len(bad) + len(seen)
    return Finding(tuple(bad), f"{len(bad)} of {n} leavers of the period still hold open grants, keys not marked "
                   "as theirs no more, or accounts they own", tuple(seen),
                   f"each of the {n} leavers of the period was offboarded: no open grant, every key they held "
                   "marked, no account still theirs")


def drills(p: Predicate) -> Finding:
    report = p.get("drills") or {}
    failed = [_ptr("drills", "drills", i) for i, d in enumerate(report.get("drills") or [])
              if d.get("result") == "fail" or d.get("flags")]
    stale = [_ptr("drills", "accounts_without_pass", i) for i, _ in enumerate(report.get("accounts_without_pass")
                                                                                 or [])]
    return Finding(tuple(failed + stale), f"{len(failed)} drills failed or were flagged, {len(stale)} accounts "
                   "have no passing recovery drill in the last 365 days", (_ptr("drills"),),
                   "every account passed a recovery drill in the last 365 days, within the target time")


def _emergencies(p: Predicate) -> bool:
    return any(r.get("emergency") for r in _reveals(p))


def _and(*findings: Finding) -> Finding:
    """All of ``findings`` must pass; their pointers once each, in order."""
    failed = tuple(dict.fromkeys(f for x in findings for f in x.failed))
    checked = tuple(dict.fromkeys(c for x in findings for c in x.checked))
    return Finding(failed, "; ".join(x.why_failed for x in findings if x.failed), checked,
                   "; ".join(x.why_passed for x in findings))


def emergency_reviews(p: Predicate) -> Finding:
    ptrs = [_ptr("access", "reveals", i) for i, r in enumerate(_reveals(p)) if r.get("emergency")]
    bad = [ptrs[n] for n, r in enumerate(r for r in _reveals(p) if r.get("emergency")) if not r.get("review")]
    return _and(Finding(tuple(bad), f"{len(bad)} of {len(ptrs)} emergency reveals were not reviewed", tuple(ptrs),
                        f"each of the {len(ptrs)} emergency (break-glass) reveals was reviewed afterwards"),
                no_anomalies(p, UNREVIEWED, "emergency grants left unreviewed"))


# ---- the controls -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rule:
    framework: str
    control: str
    title: str
    check: Callable[[Predicate], Finding]
    applicable: Callable[[Predicate], bool] = lambda p: True
    not_applicable: str = ""


def _has_reveals(p: Predicate) -> bool:
    return bool(_reveals(p))


RULES: tuple[Rule, ...] = (
    Rule(SOC2, "CC6.1", "Logical access security: multi-factor authentication on the accounts",
         lambda p: _and(mfa(p), recovery_codes(p))),
    Rule(SOC2, "CC6.2", "Access is granted only after authorization, with the rationale recorded",
         access_decisions, _has_reveals, "no recovery code was handed out in the period"),
    Rule(SOC2, "CC6.3", "Access is removed in time when people leave", removals,
         lambda p: bool(p.get("offboardings")), "nobody was offboarded in the period"),
    Rule(ISO, "A.5.15", "Access control: the rules are enforced, with no way around them",
         lambda p: no_anomalies(p, ACCESS_BYPASS, "access around custody's rules")),
    Rule(ISO, "A.5.16", "Identity management: every actor and every account is a known identity", identities),
    Rule(ISO, "A.5.17", "Authentication information: recovery codes are held, handed out and rotated under "
         "custody", lambda p: _and(recovery_codes(p), access_decisions(p))),
    Rule(ISO, "A.5.18", "Access rights: provided with a rationale, reviewed, and removed",
         lambda p: _and(access_decisions(p), removals(p)),
         lambda p: _has_reveals(p) or bool(p.get("offboardings")),
         "no recovery code was handed out and nobody was offboarded in the period"),
    Rule(ISO, "A.8.2", "Privileged access rights: break-glass access is approved or reviewed",
         lambda p: _and(access_decisions(p), emergency_reviews(p)), _has_reveals,
         "no break-glass access happened in the period"),
    Rule(ISO, "A.8.5", "Secure authentication: phishing-resistant keys, and recovery that works",
         lambda p: _and(mfa(p), drills(p))),
)


def evaluate(predicate: Predicate) -> list[dict[str, Any]]:
    """Every control's status over the raw sections of ``predicate`` (as JSON objects, in RULES' order)."""
    out = []
    for rule in RULES:
        if not rule.applicable(predicate):
            control = Control(rule.framework, rule.control, rule.title, "not-applicable", rule.not_applicable, ())
        else:
            found = rule.check(predicate)
            status = found.status()
            why = found.why_failed if status == "fail" else found.why_passed
            control = Control(rule.framework, rule.control, rule.title, status, why,
                              found.failed if status == "fail" else found.checked)
        out.append(control.as_json())
    return out
