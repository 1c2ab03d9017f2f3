"""Settings of the inventory commands, from the environment (see docs/operations.md)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from custody.urls import valid_addr


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/custody``, else ``~/.cache/custody``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "custody"


class InventorySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CUSTODY_", extra="ignore")

    pypi_url: str = "https://pypi.org"
    cache_dir: Path | None = None
    pypi_interval: float = Field(0.5, ge=0.0, le=60.0)  # seconds between two requests to the index
    pypi_cache_seconds: float = Field(3600.0, ge=0.0, le=30 * 86400.0)  # a cached document is fresh this long
    pypi_timeout: float = Field(20.0, gt=0.0, le=300.0)

    @field_validator("pypi_url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not valid_addr(value):
            raise ValueError("not a valid URL (http(s)://host[:port])")
        return value

    def cache_root(self) -> Path:
        return self.cache_dir or default_cache_dir()
