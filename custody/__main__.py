"""``python -m custody``: the same as the ``custody`` command."""

from custody.cli.main import run

raise SystemExit(run())
