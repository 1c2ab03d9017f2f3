"""``custody serve``: build the service from settings and run it under uvicorn (connection handling:
``custody.serving``)."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from custody import logging as clog
from custody import notify
from custody.api.app import create_app
from custody.callers import CallerCache
from custody.config import ServerSettings
from custody.console.seal import KeyRing
from custody.errors import CustodyError
from custody.notify import Notifier
from custody.serving import (
    LISTEN_BACKLOG,
    OPEN_FILES_RESERVE,
    Guard,
    Server,
    connection_cap,
    open_files_limit,
    protocol_class,
)
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
    console = settings.console()
    keys = KeyRing.from_file(console.key_file) if console.key_file else None
    # The Store is custody's KV mount, what Vault says about callers, and how the console signs people in.
    uc = UseCases.build(store, store, settings, callers=CallerCache(max_age=settings.caller_cache_seconds),
                        notifier=Notifier(settings.webhooks, settings.webhook_format, console_url=console.url),
                        api_path=settings.api_path, audit_logs=settings.audit_logs, person_vault=store, console=console)
    return create_app(uc, settings.max_body_bytes, settings.public_vault_addr or settings.vault_addr, console, keys)


def run(settings: ServerSettings | None = None) -> None:
    """Serve until SIGTERM or SIGINT; then answer the requests in progress, and deliver queued webhook events,
    each within its bound (``shutdown_timeout``, ``webhook_flush_timeout``)."""
    settings = settings or ServerSettings()
    clog.configure(settings.log_format, settings.log_level)
    app = build(settings)
    log = clog.get_logger()
    files = open_files_limit(settings.open_files or settings.max_connections + OPEN_FILES_RESERVE,
                             exact=bool(settings.open_files))
    cap = connection_cap(settings.max_connections, files)
    log.info("custody.start", host=settings.listen_host, port=settings.listen_port, vault=settings.vault_addr,
             max_connections=cap, open_files=files)
    if cap < settings.max_connections:
        log.warning("custody.connections_capped", max_connections=cap, wanted=settings.max_connections,
                    open_files=files, hint="raise the open-files limit (systemd LimitNOFILE=, ulimit -n)")
    config = uvicorn.Config(
        app, host=settings.listen_host, port=settings.listen_port, log_config=None, access_log=False,
        server_header=False, loop="asyncio", http=protocol_class(Guard(cap, settings.header_read_timeout)),
        backlog=LISTEN_BACKLOG,
        timeout_keep_alive=settings.keep_alive_timeout,  # type: ignore[arg-type]  # uvicorn takes any seconds
        timeout_graceful_shutdown=settings.shutdown_timeout,  # type: ignore[arg-type]
    )
    Server(config, after_shutdown=lambda: notify.close_all(settings.webhook_flush_timeout)).run()
