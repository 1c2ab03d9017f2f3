"""The service's own Vault identity: AppRole login, and a secret_id rotated on disk without a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from custody.config import ServerSettings
from custody.errors import StoreError
from custody.store import Store
from tests.helpers import Stack

pytestmark = pytest.mark.integration


def test_secret_id_rotated_on_disk_is_used_at_next_login(stack: Stack, tmp_path: Path) -> None:
    admin = stack.admin()
    role_id = admin.call("GET", "auth/approle/role/custody-service/role-id")["data"]["role_id"]
    old = admin.call("POST", "auth/approle/role/custody-service/secret-id")["data"]["secret_id"]
    secret_file = tmp_path / "secret-id"
    secret_file.write_text(old + "\n")
    settings = ServerSettings(role_id=role_id, secret_id_file=secret_file, vault_addr=stack.vault_addr)
    store = Store(stack.vault_addr)
    store.use_approle(role_id, lambda: settings.read_secret_id().get_secret_value())
    assert store.list_keys("accounts/") is not None

    new = admin.call("POST", "auth/approle/role/custody-service/secret-id")["data"]["secret_id"]
    secret_file.write_text(new + "\n")
    admin.call("POST", "auth/approle/role/custody-service/secret-id/destroy", {"secret_id": old})
    store._refresh(force=True)  # what happens when the token nears its end
    assert store.list_keys("accounts/") is not None
    admin.call("POST", "auth/approle/role/custody-service/secret-id/destroy", {"secret_id": new})


def test_unreadable_secret_id_file_is_a_clear_error(stack: Stack, tmp_path: Path) -> None:
    settings = ServerSettings(role_id="x", secret_id_file=tmp_path / "missing", vault_addr=stack.vault_addr)
    store = Store(stack.vault_addr)
    with pytest.raises(StoreError, match="cannot read CUSTODY_SECRET_ID_FILE"):
        store.use_approle("x", lambda: settings.read_secret_id().get_secret_value())


def test_wrong_secret_id_is_refused_without_echo(stack: Stack) -> None:
    store = Store(stack.vault_addr, retries=0)
    with pytest.raises(StoreError) as info:
        store.use_approle("not-a-role", "not-the-secret-id-value")
    assert "not-the-secret-id-value" not in info.value.diagnostics()


def test_dev_up_leaves_the_users_vault_token_alone(tmp_path: Path) -> None:
    """A -dev OpenBao stores its root token in ~/.vault-token unless told not to: that would clobber the user's
    own login (and concurrent dev servers raced on that file, failing to start)."""
    import os
    import subprocess
    import sys

    home = tmp_path / "home"
    home.mkdir()
    (home / ".vault-token").write_text("s.users-own-token\n")
    env = {**os.environ, "HOME": str(home)}
    stack_dir = tmp_path / "stack"
    try:
        up = subprocess.run([sys.executable, "-m", "custody", "dev", "up", "--dir", str(stack_dir), "--format", "json"],
                            env=env, capture_output=True, text=True, timeout=60)
        assert up.returncode == 0, up.stderr
    finally:
        subprocess.run([sys.executable, "-m", "custody", "dev", "down", "--dir", str(stack_dir)], env=env,
                       capture_output=True, timeout=60)
    assert (home / ".vault-token").read_text() == "s.users-own-token\n"


def test_dev_down_stops_the_stack_even_without_its_state_file(tmp_path: Path) -> None:
    """A lost state.json (or a deleted directory) used to leave bao and the server running for ever."""
    import json
    import os
    import shutil
    import subprocess
    import sys

    from custody.devkit import alive, started_for

    stack_dir = tmp_path / "stack"
    cmd = [sys.executable, "-m", "custody", "dev"]
    try:
        up = subprocess.run([*cmd, "up", "--dir", str(stack_dir), "--format", "json"], capture_output=True,
                            text=True, timeout=60, env=os.environ)
        assert up.returncode == 0, up.stderr
        state = json.loads((stack_dir / "state.json").read_text())
        pids = {state["bao_pid"], state["custody_pid"]}
        assert set(started_for(stack_dir)) == pids  # found by their environment, nothing else
        assert started_for(tmp_path) == [] and started_for(tmp_path / "stac") == []
        shutil.rmtree(stack_dir)  # state.json, logs, everything
    finally:
        down = subprocess.run([*cmd, "down", "--dir", str(stack_dir), "--format", "json"], capture_output=True,
                              text=True, timeout=60)
    assert down.returncode == 0, down.stderr
    assert json.loads(down.stdout)["stopped"] is True
    assert not any(alive(p) for p in pids)
    assert started_for(stack_dir) == []


def test_a_stale_state_file_never_names_someone_elses_processes(tmp_path: Path) -> None:
    """After a reboot the pids in an old state.json may belong to anything: neither `up` nor `down` may take them
    for the stack (up would print dead addresses, down would kill them)."""
    import json
    import subprocess

    from custody.devkit import alive
    from custody.devstack import DevStack

    strangers = [subprocess.Popen(["sleep", "300"]) for _ in range(2)]
    try:
        stack_dir = tmp_path / "stale"
        stack_dir.mkdir()
        (stack_dir / "state.json").write_text(json.dumps({
            "vault_addr": "http://127.0.0.1:9", "custody_addr": "http://127.0.0.1:9", "audit_log": "x",
            "bao_pid": strangers[0].pid, "custody_pid": strangers[1].pid, "tokens": {"root": "r"}}))
        dev = DevStack(stack_dir)
        assert dev.running() is None
        assert dev.down() is False
        assert all(alive(p.pid) for p in strangers)
    finally:
        for p in strangers:
            p.kill()
            p.wait()


def test_dev_up_again_renews_tokens_that_expired(tmp_path: Path) -> None:
    """`dev up` on a running stack prints its tokens again; the rotation token lives 15 minutes."""
    from custody.bootstrap import Admin
    from custody.devstack import DevStack

    dev = DevStack(tmp_path / "stack")
    try:
        first = dev.up()
        admin = Admin(first["vault_addr"], first["tokens"]["root"])
        who = Admin(first["vault_addr"], first["tokens"]["engineer"]).call("GET", "auth/token/lookup-self")
        for name in ("rotation", "engineer"):
            admin.call("POST", "auth/token/revoke", {"token": first["tokens"][name]})
        again = dev.up()
        assert again["custody_pid"] == first["custody_pid"]  # the same stack, not a new one
        changed = {k for k in first["tokens"] if first["tokens"][k] != again["tokens"][k]}
        assert changed == {"rotation", "engineer"}
        for name in ("rotation", "engineer"):
            assert Admin(again["vault_addr"], again["tokens"][name]).call("GET", "auth/token/lookup-self")
        entity = Admin(again["vault_addr"], again["tokens"]["engineer"]).call("GET", "auth/token/lookup-self")
        assert entity["data"]["entity_id"] == who["data"]["entity_id"]  # the same person, logged in again
    finally:
        dev.down()
