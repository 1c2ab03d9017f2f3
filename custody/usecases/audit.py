"""The audit summary, served to the auditor role (read on ``custody/audit/summary``).

The server reads the audit-device files it was configured with (``CUSTODY_AUDIT_LOGS``: comma-separated paths or
globs, e.g. the file the Vault node writes, mounted read-only), in-process and single-threaded: forking worker
processes from a threaded server is unsafe, and the local ``custody audit summary`` command is the fast path for big
logs.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from custody.errors import NotFound
from custody.usecases.context import UseCase

AuditFormat = Literal["json", "markdown", "csv", "html"]


def audit_paths(patterns: tuple[str, ...]) -> list[Path]:
    paths: list[Path] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) if any(c in pattern for c in "*?[") else [pattern]
        paths.extend(Path(m) for m in matches)
    return paths


@dataclass(frozen=True)
class Audit(UseCase):
    logs: tuple[str, ...] = ()  # the audit-device files this server reads (paths or globs)

    def summary(self, token: str, since: str | None, until: str | None, fmt: AuditFormat) -> str:
        """The summary of the configured logs over ``[since, until)``, rendered as ``fmt``."""
        self.authz.authorize(token, "audit/summary", "read")
        paths = audit_paths(self.logs)
        if not paths:
            raise NotFound("this server reads no audit logs",
                           hint="set CUSTODY_AUDIT_LOGS, or run `custody audit summary --log FILE` locally")
        # Imported here, not at the top: the summariser is a quarter of a second to import, and most servers
        # never serve a summary.
        from custody.auditlog import render, summarize

        return render(summarize(paths, since, until, mount=self.repo.kv.mount, workers=1), fmt)
