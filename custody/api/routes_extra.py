"""Routes beyond accounts and grants (rotation, audit), registered by ``create_app``.

Each feature module exposes ``register(app, custody, ok, token_header, auth_header)``; this module lists them.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from custody.service import Custody

MODULES: list[str] = ["custody.api.rotation_routes", "custody.api.audit_routes"]


def register(app: FastAPI, custody: Custody, ok: Any, token_header: Any, auth_header: Any) -> None:
    import importlib

    for name in MODULES:
        importlib.import_module(name).register(app, custody, ok, token_header, auth_header)
