"""A highly available stack on loopback, for failover tests and demos: three OpenBao nodes with integrated storage
(Raft) and two custody replicas.

Each node runs in its own working directory with the *same* declarative audit device, whose ``file_path`` is
relative (``audit.log``): Raft requires every node to declare identical audit options, and the relative path still
gives each node its own log. The cluster is initialised with one key share (a test cluster), unsealed, joined,
bootstrapped with :func:`custody.bootstrap.bootstrap` exactly like production, and given the demo identities of
``custody dev up``. Each custody replica gets every node's address, starting with a different one, so losing any
single node (the leader included) leaves each replica a node to talk to.

Everything lives in one directory; ``state.json`` (0600) holds the root token, the unseal key and demo tokens.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
from pathlib import Path
from typing import Any

import httpx

from custody.bootstrap import Admin, bootstrap
from custody.devkit import (
    alive,
    bao_binary,
    child_env,
    demo_identities,
    free_port,
    load_state,
    ours,
    save_state,
    start,
    start_server,
    status,
    stop_stack,
    until,
    wait_http,
    write_console_key,
    write_secret,
)
from custody.errors import StoreError
from custody.httpclient import client

# sys/health answers: 200 active, 429 standby, 472/473 DR/perf standby, 501 not initialised, 503 sealed.
_ANY_HEALTH = (200, 429, 472, 473, 501, 503)

NODE_CONFIG = """\
storage "raft" {{
  path    = "{data}"
  node_id = "{node_id}"
  # Raft's tightest timings (production default is 5): a new leader within about a second on loopback.
  performance_multiplier = 1
}}
listener "tcp" {{
  address         = "127.0.0.1:{port}"
  cluster_address = "127.0.0.1:{cluster_port}"
  tls_disable     = true
}}
api_addr      = "http://127.0.0.1:{port}"
cluster_addr  = "https://127.0.0.1:{cluster_port}"
disable_mlock = true
# OpenBao 2.x standbys serve reads from their own, possibly lagging, copy of Raft by default. custody reads a
# record and then writes it with check-and-set, and reads back what it just wrote (the wrapped reveal): it needs
# read-after-write consistency, so every request goes to the active node.
disable_standby_reads = true
ui            = false
log_level     = "warn"

# Identical on every node (Raft requires it); relative, so each node writes into its own working directory.
audit "file" "file" {{
  options {{ file_path = "audit.log" }}
}}
"""


def _health(addr: str) -> int | None:
    """The node's sys/health status code, or None when it does not answer."""
    return status(f"{addr}/v1/sys/health")


class HAStack:
    """``up`` / ``down`` a 3-node OpenBao Raft cluster plus custody replicas; ``kill_leader`` for failover tests."""

    def __init__(self, directory: Path, nodes: int = 3, replicas: int = 2) -> None:
        self.dir = directory.resolve()
        self.nodes = nodes
        self.replicas = replicas
        self.state: dict[str, Any] = {}
        self.http = client(timeout=30)

    # ---- lifecycle -------------------------------------------------------------------------------------------
    def running(self) -> dict[str, Any] | None:
        """The state of a stack from an earlier ``up`` whose every process is still alive."""
        state = load_state(self.dir)
        procs = [*state.get("replicas", []), *state.get("nodes", [])] if state else []
        if state and state.get("tokens") and procs and all(ours(p.get("pid"), self.dir) for p in procs):
            return state
        return None

    def up(self, extra_env: dict[str, str] | None = None) -> dict[str, Any]:
        self.down()
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        for old in self.dir.glob("node*"):  # a fresh cluster every time: old Raft data would be initialised
            shutil.rmtree(old)
        env = child_env(self.dir)
        self.state = {"dir": str(self.dir), "nodes": [], "replicas": []}
        try:
            for i in range(1, self.nodes + 1):
                self.state["nodes"].append(self._start_node(i, free_port(), free_port(), env))
            self._save()
            for node in self.state["nodes"]:
                wait_http(f"{node['addr']}/v1/sys/health", 20, ok=_ANY_HEALTH)
            first = self.state["nodes"][0]
            init = self.http.put(f"{first['addr']}/v1/sys/init",
                                 json={"secret_shares": 1, "secret_threshold": 1}).json()
            self.state |= {"unseal_key": init["keys_base64"][0], "root": init["root_token"]}
            self._save()
            self.unseal(0)
            wait_http(f"{first['addr']}/v1/sys/health", 30)  # the first node active
            # Autopilot makes a joined node a voter only after it has been stable this long (default 10s).
            self.http.post(f"{first['addr']}/v1/sys/storage/raft/autopilot/configuration",
                           headers={"X-Vault-Token": self.state["root"]},
                           json={"server_stabilization_time": "1s", "cleanup_dead_servers": False})
            for i, node in enumerate(self.state["nodes"][1:], start=1):
                resp = self.http.post(f"{node['addr']}/v1/sys/storage/raft/join",
                                      json={"leader_api_addr": first["addr"]})
                if resp.status_code >= 400 or not resp.json().get("joined"):
                    raise StoreError(f"node {node['id']} could not join the cluster: HTTP {resp.status_code}")
                self.unseal(i)
            for node in self.state["nodes"][1:]:  # a standby answers sys/health with 429
                wait_http(f"{node['addr']}/v1/sys/health", 30, ok=(429,))
            admin = Admin(first["addr"], self.state["root"])
            boot = bootstrap(admin)
            self.state["tokens"] = {"root": self.state["root"]} | demo_identities(admin, boot)
            service = boot["approles"]["custody-service"]
            secret_file = write_secret(self.dir, service["secret_id"])
            self.state["role_id"] = service["role_id"]
            addrs = [n["addr"] for n in self.state["nodes"]]
            console = {"CUSTODY_CONSOLE_KEY_FILE": str(write_console_key(self.dir))}  # one key: any replica opens
            for r in range(self.replicas):
                rotated = addrs[r % len(addrs):] + addrs[:r % len(addrs)]
                self.state["replicas"].append(self._start_replica(r, rotated, secret_file,
                                                                  env | console | (extra_env or {})))
            self._save()
            for replica in self.state["replicas"]:
                wait_http(f"{replica['addr']}/v1/custody/health", 30)
            self._wait_for_voters(self.nodes)  # losing the leader is survivable only once all are voters
        except BaseException:
            self.down()
            raise
        return self.state

    def _start_node(self, i: int, port: int, cluster_port: int, env: dict[str, str]) -> dict[str, Any]:
        node_dir = self.dir / f"node{i}"
        (node_dir / "data").mkdir(parents=True, exist_ok=True)
        config = node_dir / "bao.hcl"
        config.write_text(NODE_CONFIG.format(data=node_dir / "data", node_id=f"node{i}", port=port,
                                             cluster_port=cluster_port))
        pid = start([bao_binary(), "server", f"-config={config}"], node_dir / "bao.log", env, cwd=node_dir)
        return {"id": f"node{i}", "addr": f"http://127.0.0.1:{port}", "cluster_port": cluster_port, "pid": pid,
                "dir": str(node_dir), "port": port}

    def _start_replica(self, r: int, addrs: list[str], secret_file: Path, env: dict[str, str]) -> dict[str, Any]:
        port = free_port()
        server_env = env | {
            "CUSTODY_VAULT_ADDR": ",".join(addrs),
            "CUSTODY_ROLE_ID": self.state["role_id"],
            "CUSTODY_SECRET_ID_FILE": str(secret_file),
            "CUSTODY_LISTEN_PORT": str(port),
            "CUSTODY_PUBLIC_VAULT_ADDR": addrs[0],
        }
        pid = start_server(server_env, self.dir / f"custody-{r + 1}.log")
        return {"addr": f"http://127.0.0.1:{port}", "pid": pid, "vault_addrs": addrs}

    def unseal(self, i: int) -> None:
        node = self.state["nodes"][i]
        resp = self.http.put(f"{node['addr']}/v1/sys/unseal", json={"key": self.state["unseal_key"]})
        if resp.status_code >= 400:
            raise StoreError(f"unsealing {node['id']} failed: HTTP {resp.status_code}")

    def _wait_for_voters(self, count: int, timeout: float = 30) -> None:
        def voters() -> bool:
            for node in self.state["nodes"]:
                with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
                    resp = self.http.get(f"{node['addr']}/v1/sys/storage/raft/configuration", timeout=2,
                                         headers={"X-Vault-Token": self.state["root"]})
                    servers = resp.json()["data"]["config"]["servers"]
                    return sum(1 for s in servers if s.get("voter")) >= count
            return False

        until(voters, timeout, f"{count} Raft voters")

    def down(self) -> bool:
        """Stop every process this stack started (from memory, or from state.json of an earlier run)."""
        state = self.state or load_state(self.dir)
        pids = [r.get("pid") for r in state.get("replicas", [])] + [n.get("pid") for n in state.get("nodes", [])]
        self.state = {}
        return stop_stack(self.dir, pids)

    # ---- the cluster at run time ------------------------------------------------------------------------------
    def leader(self, timeout: float = 15) -> int:
        """Index of the active node (waits for one)."""
        found: list[int] = []

        def active() -> bool:
            for i, node in enumerate(self.state["nodes"]):
                if alive(node["pid"]) and _health(node["addr"]) == 200:
                    found.append(i)
                    return True
            return False

        until(active, timeout, "an active OpenBao node")
        return found[0]

    def kill(self, i: int) -> None:
        """SIGKILL one node: no graceful step-down, as in a crash."""
        pid = self.state["nodes"][i]["pid"]
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, 0)

    def restart(self, i: int) -> None:
        """Start a killed node again with its data, and unseal it; it rejoins as a standby."""
        node = self.state["nodes"][i]
        env = child_env(self.dir)
        self.state["nodes"][i] = self._start_node(i + 1, node["port"], node["cluster_port"], env)
        self._save()
        wait_http(f"{node['addr']}/v1/sys/health", 20, ok=_ANY_HEALTH)
        self.unseal(i)

    def logs(self) -> dict[str, str]:
        """Every log the stack wrote, by relative path (node logs, audit logs, replica logs)."""
        return {str(p.relative_to(self.dir)): p.read_text(errors="replace") for p in self.dir.rglob("*.log")}

    # ---- persistence ------------------------------------------------------------------------------------------
    def _save(self) -> None:
        save_state(self.dir, self.state)


def public_view(state: dict[str, Any]) -> dict[str, Any]:
    """What ``custody dev ha`` prints: the dev-up shape, plus every node and replica."""
    return {"vault_addr": state["nodes"][0]["addr"], "custody_addr": state["replicas"][0]["addr"],
            "audit_log": str(Path(state["nodes"][0]["dir"]) / "audit.log"), "tokens": state["tokens"],
            "dir": state["dir"], "vault_addrs": [n["addr"] for n in state["nodes"]],
            "custody_addrs": [r["addr"] for r in state["replicas"]]}
