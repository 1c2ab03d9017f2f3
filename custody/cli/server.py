"""``custody serve``: run the API server. What the server needs (pydantic settings, FastAPI, uvicorn, hvac) is
imported inside the command, so that no other command pays for it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from custody.errors import ValidationError

if TYPE_CHECKING:
    import pydantic


@click.command()
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


def settings_error(exc: pydantic.ValidationError, what: str = "setting",
                   model: type[pydantic.BaseModel] | None = None) -> ValidationError:
    """A settings error naming the environment variable (CUSTODY_LOG_LEVEL), one line, no input echoed."""
    import pydantic

    first = exc.errors()[0]
    field = ".".join(str(x) for x in first["loc"]) or "?"
    name = field if field.isupper() else f"CUSTODY_{field.upper()}"
    for info in (model.model_fields.values() if model else ()):  # a field read from several variables: name all
        choices = info.validation_alias.choices if isinstance(info.validation_alias, pydantic.AliasChoices) else []
        if field in choices:
            field = name = " / ".join(str(c) for c in choices)
    message = str(first["msg"]).removeprefix("Value error, ")
    return ValidationError(f"invalid {what} {field}{'' if name == field else f' ({name})'}: {message}",
                           hint="see docs/operations.md for every setting")
