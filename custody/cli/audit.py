"""``custody audit summary``: summarise Vault/OpenBao audit-device files, locally, without a server.

Output goes to stdout (or ``--output F``); with ``--format json`` stdout holds JSON only. Errors go to stderr with
a hint and a non-zero exit: 1 when the logs or the arguments are unusable, and, with ``--fail-on SEVERITY``, 4 when
an anomaly at or above that severity was found (the summary is still printed first), for cron and CI.

The audit reader (``custody.auditlog``) is imported inside the command: it is the heaviest part of custody.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from custody.errors import CustodyError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from custody.auditlog import Summary

EXIT_ANOMALY = 4
# Severities from the least to the most severe, as custody.auditlog.model.Severity spells them (a test keeps the
# two equal); written out here so that `custody --help` does not import the audit reader.
SEVERITIES = ("low", "medium", "high", "critical")
DEFAULT_LATE_AFTER = "120s"  # custody.auditlog.DEFAULT_LATE_AFTER, likewise
FORMATS = ("markdown", "json", "csv", "html", "text")


class AnomaliesFound(click.ClickException):
    """Raised after the summary is written, so that ``--fail-on`` can fail a cron job or a CI step."""

    exit_code = EXIT_ANOMALY

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(self.message, err=True)


def _mount_name(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not value.strip("/"):
        raise click.BadParameter("name the custody KV v2 mount, e.g. --mount custody-kv")
    return value


@click.group("audit")
def audit() -> None:
    """Evidence from Vault/OpenBao audit devices: who obtained which code, when, why, and what bypassed custody."""


@audit.command("summary")
@click.option("--log", "logs", multiple=True, required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="an audit-device file (plain or .gz); repeat for rotated files and for each cluster node")
@click.option("--since", default=None, help="ISO 8601 date/time (UTC if no zone) or a duration back: 24h, 7d")
@click.option("--until", default=None, help="end of the window (exclusive), same forms as --since")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="markdown", show_default=True,
              help="json is the stable schema (docs/auditor-guide.md); csv has one row per access; text = markdown")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="write here")
@click.option("--mount", default="custody-kv", show_default=True, envvar="CUSTODY_KV_MOUNT", callback=_mount_name,
              help="the custody KV v2 mount")
@click.option("--service-role", default="custody-service", show_default=True,
              help="the custody service's AppRole role name (its token is the only one allowed on the mount)")
@click.option("--late-after", default=DEFAULT_LATE_AFTER, show_default=True,
              help="an unwrap later than this after the hand-out is reported late")
@click.option("--fail-on", type=click.Choice(SEVERITIES), default=None,
              help="exit 4 if an anomaly of this severity or worse is found")
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="processes to read with (default: cores)")
def summary_cmd(logs: tuple[Path, ...], since: str | None, until: str | None, fmt: str, output: Path | None,
                mount: str, service_role: str, late_after: str, fail_on: str | None, workers: int | None) -> None:
    """Summarise custody access from audit-device logs: reveals with reasons and approvers, per account and
    per principal, and the anomalies an auditor must look at."""
    from custody.auditlog import render, summarize
    from custody.auditlog.reader import paused_gc
    from custody.auditlog.render import render_chunks
    from custody.auditlog.timeparse import parse_duration

    # The collector stays paused until the report is written: what the summary built has no cycles, and the first
    # collection after it would walk all of it (a tenth of a second on a large log) before the rendering starts.
    with paused_gc():
        s = summarize(
            list(logs), since, until, mount, service_role, late_after=parse_duration(late_after), workers=workers
        )
        form = "markdown" if fmt == "text" else fmt
        if output is None:
            click.echo(render(s, form), nl=False)  # type: ignore[arg-type]  # one of FORMATS
        else:
            _write(output, render_chunks(s, form))  # type: ignore[arg-type]
            click.echo(f"wrote {output} ({s.totals.reveals} reveals, {s.totals.anomalies} anomalies)", err=True)
    from custody.cli.main import exit_without_teardown

    exit_without_teardown()  # the summary is all this process holds, and it has been written
    if fail_on is not None:
        _check(s, fail_on)


def _write(path: Path, chunks: Iterable[bytes]) -> None:
    """Write whole or not at all: a half-written report must not pass for evidence."""
    import tempfile

    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # like any file the user writes, not mkstemp's 0600
        os.replace(tmp, path)
    except OSError as e:
        raise CustodyError(
            f"cannot write {path}: {e.strerror or e}", "check the --output directory exists and is writable"
        ) from e


def _check(s: Summary, threshold: str) -> None:
    worst = [a for a in s.anomalies if SEVERITIES.index(a.severity.value) >= SEVERITIES.index(threshold)]
    if worst:
        kinds = sorted({a.kind.value for a in worst})
        raise AnomaliesFound(
            f"{len(worst)} anomal{'y' if len(worst) == 1 else 'ies'} at or above {threshold}: {', '.join(kinds)}"
        )
