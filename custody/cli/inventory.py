"""``custody inventory``: which PyPI projects the organisation publishes, from where, how, and by which accounts.

``scan`` and ``import`` need no server; ``report`` adds custody's own accounts when CUSTODY_ADDR and a Vault token
are given; ``sync`` creates in custody the accounts the inventory found (the security team's token). The inventory
modules are imported inside each command, so ``custody --help`` stays fast.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from custody.errors import CustodyError

FORMATS = ("text", "json", "markdown", "csv")
_PATH = click.Path(path_type=Path)


def _format_option(choices: tuple[str, ...]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option("--format", "fmt", type=click.Choice(choices), default="text", show_default=True,
                        help="json prints JSON only, on stdout (the stable shape: docs/inventory.md); text is markdown")


Renderer = Callable[[dict[str, Any]], str]


def _render(fmt: str, data: dict[str, Any], by_format: dict[str, Renderer], default: Renderer) -> str:
    return by_format.get(fmt, default)(data)


_output_option = click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
                              help="write here instead of stdout")


def _emit(text: str, output: Path | None, summary: str) -> None:
    if output is None:
        click.echo(text, nl=False)
        return
    try:  # whole or not at all: a half-written inventory must not pass for a complete one
        fd, tmp = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, output)
    except OSError as exc:
        raise CustodyError(f"cannot write {output}: {exc.strerror or exc}",
                           hint="check that the --output directory exists and is writable") from None
    click.echo(f"wrote {output} ({summary})", err=True)


@click.group("inventory")
def inventory() -> None:
    """Inventory PyPI projects, their publishing paths and the accounts behind them (rollout steps one and two)."""


@inventory.command("scan")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@_format_option(FORMATS)
@_output_option
def scan_cmd(paths: tuple[Path, ...], fmt: str, output: Path | None) -> None:
    """Find every publish step in repository checkouts (each PATH a checkout, or a folder of them).

    Reads GitHub workflows (with local reusable workflows), GitLab CI (with local includes) and the project
    metadata. Read-only: nothing in the repositories is run, and no symlink out of them is followed.
    """
    from custody.inventory import render
    from custody.inventory.scanning import scan

    data = scan(list(paths)).as_dict()
    text = _render(fmt, data, {"json": render.as_json, "csv": render.scan_csv}, render.scan_markdown)
    _emit(text, output, f"{len(data['findings'])} publish steps, {len(data['warnings'])} warnings")


@inventory.command("import")
@click.argument("files", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--online", "online", multiple=True, metavar="PROJECT",
              help="fetch PROJECT's /pypi/<project>/json from CUSTODY_PYPI_URL (repeatable)")
@_format_option(FORMATS)
@_output_option
def import_cmd(files: tuple[Path, ...], online: tuple[str, ...], fmt: str, output: Path | None) -> None:
    """Read PyPI ownership from saved JSON API documents (FILE, or a folder of *.json) and/or fetch them.

    Prints each project's owners, maintainers and organization, and each account's projects and roles.
    Roles granted through an Organization's teams are not in PyPI's data.
    """
    from custody.errors import ValidationError
    from custody.inventory import render
    from custody.inventory.importing import import_ownership

    if not files and not online:
        raise ValidationError("nothing to import", hint="give saved documents (FILE...) or --online PROJECT")
    data = import_ownership(list(files), list(online), settings=_settings() if online else None).as_dict()
    text = _render(fmt, data, {"json": render.as_json, "csv": render.import_csv}, render.import_markdown)
    _emit(text, output, f"{len(data['projects'])} projects, {len(data['accounts'])} accounts")


def _settings() -> Any:
    import pydantic

    from custody.cli.server import settings_error
    from custody.inventory.settings import InventorySettings

    try:
        return InventorySettings()
    except pydantic.ValidationError as exc:
        raise settings_error(exc, "inventory setting", InventorySettings) from None


def _inputs(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The options that say what to read: saved scans or fresh ones, and PyPI ownership (saved, or fetched)."""
    for option in reversed((
        click.option("--scan", "scans", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="a saved `inventory scan --format json` (repeatable)"),
        click.option("--repo", "repos", multiple=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
                     help="scan this checkout (or folder of checkouts) now (repeatable)"),
        click.option("--pypi", "pypi_files", multiple=True, type=click.Path(exists=True, path_type=Path),
                     help="saved PyPI JSON documents, a folder of them, or a saved `inventory import --format json`"),
        click.option("--online", is_flag=True, help="fetch PyPI ownership for every project the scan names"),
    )):
        fn = option(fn)
    return fn


@inventory.command("report")
@_inputs
@click.option("--critical", multiple=True, metavar="PROJECT", help="treat PROJECT as critical (repeatable)")
@click.option("--skip-custody", is_flag=True, help="do not ask custody for its accounts, even if CUSTODY_ADDR is set")
@_format_option((*FORMATS, "html"))
@_output_option
def report_cmd(scans: tuple[Path, ...], repos: tuple[Path, ...], pypi_files: tuple[Path, ...], online: bool,
               critical: tuple[str, ...], skip_custody: bool, fmt: str, output: Path | None) -> None:
    """Join the scan, PyPI ownership and custody's accounts; flag what needs doing, with the evidence."""
    from custody.inventory import render
    from custody.inventory.reporting import build_report

    data = build_report(list(scans), list(repos), list(pypi_files), online, list(critical), not skip_custody,
                        settings=_settings() if online else None)
    text = _render(fmt, data, {"json": render.as_json, "csv": render.report_csv, "html": render.report_html},
                   render.report_markdown)
    flags = sum(data["summary"]["flags"].values())
    _emit(text, output, f"{flags} flags, {data['summary']['undetermined']} undetermined")



@inventory.command("sync")
@_inputs
@click.option("--critical", multiple=True, metavar="PROJECT",
              help="accounts with a role on PROJECT are created critical (repeatable)")
@click.option("--owner", default=None, metavar="EMAIL",
              help="owner of the accounts created (PyPI does not publish account emails); required with --apply")
@click.option("--tier", type=click.Choice(["standard", "critical"]), default="standard", show_default=True,
              help="tier of the accounts created that have no role on a --critical project")
@click.option("--apply", is_flag=True, help="create the accounts; without it, print the plan and write nothing")
@_format_option(("text", "json", "markdown"))
def sync_cmd(scans: tuple[Path, ...], repos: tuple[Path, ...], pypi_files: tuple[Path, ...], online: bool,
             critical: tuple[str, ...], owner: str | None, tier: str, apply: bool, fmt: str) -> None:
    """Create in custody the PyPI accounts the inventory found that it does not hold yet (security team).

    Every Owner and Maintainer in the PyPI data is one account, whatever the case of its username. A dry run by
    default: prints which accounts would be created, with which owner and tier, and why. --apply creates them
    through the custody API with your token. An account custody holds is never changed; running it again
    creates nothing twice.
    """
    from custody.inventory import render
    from custody.inventory.syncing import run

    data = run(list(scans), list(repos), list(pypi_files), online, list(critical), owner, tier, apply,
               settings=_settings() if online else None)
    click.echo(_render(fmt, data, {"json": render.as_json}, render.sync_markdown), nl=False)
