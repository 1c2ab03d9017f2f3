"""The custody API server.

Routes mirror the ACL paths in ``policies/``: ``POST /v1/custody/accounts/pypi/acme/grants`` is allowed exactly when
the caller's Vault policies grant ``create`` on ``custody/accounts/pypi/acme/grants``. Answers use Vault's envelope,
so ``bao read``/``bao write``/``bao list`` work with ``BAO_ADDR`` pointed here.

One router per feature (``custody/api/<feature>.py``), each given the use case it calls; what they share (the
caller's token, the envelope, error answers, the request context) is ``custody.api.common``.
"""

from __future__ import annotations

from fastapi import FastAPI

from custody.api import accounts, audit, codes, drills, grants, health, keys, leaks, people, rollout, rotation
from custody.api.common import RequestContext, install_error_handlers
from custody.config import ConsoleSettings
from custody.console.routes import router as console_router
from custody.console.seal import KeyRing
from custody.usecases.suite import UseCases


def create_app(uc: UseCases, max_body_bytes: int = 64 * 1024, vault_addr: str = "",
               console: ConsoleSettings | None = None, console_keys: KeyRing | None = None) -> FastAPI:
    """The app over ``uc``; ``vault_addr`` is where requesters unwrap what a reveal hands them. The web console
    (``/ui/``) is on when ``console_keys`` seal its sessions."""
    app = FastAPI(
        title="custody",
        version="1",
        description="Break-glass custody of account recovery codes, in Vault's HTTP dialect.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/v1/custody/openapi.json",
        # Never a redirect: it would name the Host header the request sent (RequestContext drops the slash).
        redirect_slashes=False,
    )
    app.add_middleware(RequestContext, max_body_bytes=max_body_bytes)
    install_error_handlers(app, suggest=uc.accounts.suggest)
    app.include_router(health.router(uc.health, uc.authz))
    app.include_router(accounts.router(uc.accounts))
    app.include_router(codes.router(uc.codes))
    app.include_router(grants.router(uc.access, vault_addr))
    app.include_router(rotation.router(uc.rotation, uc.sweep))
    app.include_router(audit.router(uc.audit))
    app.include_router(keys.router(uc.keys))
    app.include_router(rollout.router(uc.rollout))
    app.include_router(drills.router(uc.drills))
    app.include_router(people.router(uc.people))
    app.include_router(leaks.router(uc.leaks))
    app.include_router(console_router(uc, console or ConsoleSettings(), console_keys))
    return app
