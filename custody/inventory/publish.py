"""From a publish call and the place it runs to a ``Finding``: the method, the secret's name, and the warnings the
step deserves. Shared by the GitHub and GitLab readers.

The method is ``token`` when the step is given a credential (a secret, a variable, a literal); it is
``trusted-publishing`` when it is given none and can get a short-lived token from the CI's OIDC identity (GitHub:
``id-token: write``; GitLab: an ``id_tokens`` entry whose ``aud`` is the index), or when its credential is made at
run time in a job that has that identity (a token exchanged by hand); otherwise ``unknown``, with a warning saying
why: Trusted Publishing that cannot work, or a credential that comes from outside the file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from custody.inventory.model import CIPlatform, Finding, Method, ScanWarning, Severity, WarningKind
from custody.inventory.tools import PublishCall, supports_trusted_publishing

Sink = Callable[[ScanWarning], None]


@dataclass(frozen=True)
class Site:
    repo: str
    file: str
    line: int
    job: str
    platform: CIPlatform
    id_token: bool
    via: str | None = None  # the caller of a reusable workflow
    audiences: frozenset[str] = frozenset()  # GitLab: the ``aud`` of the job's ``id_tokens``

    def at(self, line: int, index: str) -> Site:
        """This site at another line, for a step publishing to ``index`` (GitLab's identity is per audience)."""
        id_token = self.id_token if self.platform == "github" else index in self.audiences
        return Site(self.repo, self.file, line, self.job, self.platform, id_token, self.via, self.audiences)


def _warn(sink: Sink, site: Site, kind: WarningKind, severity: Severity, message: str,
          file: str | None = None, line: int | None = None) -> None:
    sink(ScanWarning(site.repo, file or site.file, line or site.line, kind, severity, message))


def _no_credential(call: PublishCall, site: Site, sink: Sink) -> Method:
    oidc = "`id-token: write`" if site.platform == "github" else f"an `id_tokens` entry with `aud: {call.index}`"
    if call.trusted_publishing == "never" or not supports_trusted_publishing(call.tool, site.platform):
        _warn(sink, site, WarningKind.CREDENTIAL_UNKNOWN, Severity.MEDIUM,
              f"{call.tool} publish step with no credential in the file (and no Trusted Publishing): it comes from "
              "elsewhere (a .pypirc, a keyring, an environment set outside this file)")
        return "unknown"
    if not site.id_token:
        _warn(sink, site, WarningKind.TP_MISCONFIGURED, Severity.HIGH,
              f"{call.tool} publish step with no password and without {oidc}: Trusted Publishing cannot work here")
        return "unknown"
    if site.via is not None:
        _warn(sink, site, WarningKind.TP_REUSABLE, Severity.MEDIUM,
              f"Trusted Publishing from a reusable workflow (called from {site.via}): PyPI does not accept reusable "
              "workflows as trusted publishers yet")
    return "trusted-publishing"


def decide(call: PublishCall, site: Site, project: str | None, sink: Sink) -> Finding:
    cred = call.credential
    method: Method
    if call.trusted_publishing == "always":
        method = _no_credential(call, site, sink)
    elif cred.kind in ("secret", "variable", "literal"):
        method = "token"
    elif cred.kind == "runtime":
        method = "trusted-publishing" if site.id_token else "unknown"
        if not site.id_token:
            _warn(sink, site, WarningKind.CREDENTIAL_UNKNOWN, Severity.MEDIUM,
                  f"{call.tool} publish step whose credential ({call.credential_from}) is made at run time: "
                  "what it holds cannot be told from the file")
    else:
        method = _no_credential(call, site, sink)
    if cred.kind == "literal":
        _warn(sink, site, WarningKind.LITERAL_CREDENTIAL, Severity.CRITICAL,
              f"literal credential (value not shown) in {call.credential_from} of a {call.tool} publish step: "
              "revoke it on PyPI now, then move it to a secret or to Trusted Publishing", cred.file, cred.line)
    if project is None:
        _warn(sink, site, WarningKind.PROJECT_UNKNOWN, Severity.MEDIUM,
              f"{call.tool} publish step whose project cannot be named (no single pyproject.toml, setup.cfg or "
              "setup.py matches what it uploads)")
    credential = "id-token" if method == "trusted-publishing" and cred.kind in ("none", "runtime") else \
        call.credential_from
    return Finding(repo=site.repo, file=site.file, line=site.line, job=site.job, tool=call.tool, method=method,
                   index=call.index, secret=cred.name if cred.kind in ("secret", "variable") else None,
                   project=project, platform=site.platform, credential=credential, id_token=site.id_token,
                   literal=cred.kind == "literal", index_url=call.index_url, via=site.via)
