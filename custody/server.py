"""``custody serve``: build the service from settings and run it under uvicorn."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from custody import logging as clog
from custody.api.app import create_app
from custody.callers import CallerCache
from custody.config import ServerSettings
from custody.errors import CustodyError
from custody.notify import Notifier
from custody.store import Store
from custody.usecases.suite import UseCases


def build(settings: ServerSettings) -> FastAPI:
    verify: bool | str = str(settings.vault_cacert) if settings.vault_cacert else True
    store = Store(settings.vault_addr, mount=settings.kv_mount, verify=verify, timeout=settings.vault_timeout,
                  retries=settings.vault_retries, deadline=settings.vault_deadline)
    if not settings.role_id or not settings.read_secret_id().get_secret_value():
        raise CustodyError("the server needs AppRole credentials",
                           hint="set CUSTODY_ROLE_ID and CUSTODY_SECRET_ID_FILE (or CUSTODY_SECRET_ID)")
    # Read at every login, so a secret_id rotated in CUSTODY_SECRET_ID_FILE is used without a restart.
    store.use_approle(settings.role_id, lambda: settings.read_secret_id().get_secret_value(), settings.approle_mount)
    # The Store is both custody's KV mount and what Vault says about callers.
    uc = UseCases.build(store, store, settings, notifier=Notifier(settings.webhooks, settings.webhook_format),
                        callers=CallerCache(max_age=settings.caller_cache_seconds), api_path=settings.api_path,
                        audit_logs=settings.audit_logs)
    return create_app(uc, settings.max_body_bytes, settings.public_vault_addr or settings.vault_addr)


def run(settings: ServerSettings | None = None) -> None:
    settings = settings or ServerSettings()
    clog.configure(settings.log_format, settings.log_level)
    app = build(settings)
    clog.get_logger().info("custody.start", host=settings.listen_host, port=settings.listen_port,
                           vault=settings.vault_addr)
    # h11, not httptools: httptools refuses Vault's LIST method (and answers in plain text), which would break
    # `bao list` against custody wherever uvicorn's optional extras happen to be installed.
    uvicorn.run(app, host=settings.listen_host, port=settings.listen_port, log_config=None, access_log=False,
                server_header=False, http="h11")
