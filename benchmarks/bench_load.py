"""Latency of request, approve and reveal under 1, 10 and 50 concurrent clients, on a fresh dev stack (loopback),
and what a reveal costs next to the raw Vault calls it makes, measured in the same run.

    python -m benchmarks load        # or: make bench
    python -m benchmarks.bench_load --ops 200 --levels 1,10,50

Targets (issue 7): p99 under 100 ms at 50 clients; a reveal no more than 2x its raw Vault round trips.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from custody.devstack import DevStack

REASON = "Benchmark: lost the hardware key, need to log in and rotate a leaked token"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run_level(clients: int, jobs: list[Any], op: Callable[[httpx.Client, Any], None]) -> list[float]:
    """Run ``op`` on every job with ``clients`` threads, each with its own keep-alive connection; ms per op."""
    local = threading.local()
    latencies: list[float] = []
    lock = threading.Lock()

    def one(job: Any) -> None:
        if not hasattr(local, "http"):
            local.http = httpx.Client(timeout=30)
        start = time.perf_counter()
        op(local.http, job)
        ms = (time.perf_counter() - start) * 1000
        with lock:
            latencies.append(ms)

    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(one, jobs))
    return latencies


class Bench:
    def __init__(self, state: dict[str, Any]) -> None:
        self.custody = state["custody_addr"] + "/v1/custody"
        self.vault = state["vault_addr"] + "/v1"
        self.tokens = state["tokens"]
        self.http = httpx.Client(timeout=30)

    def call(self, http: httpx.Client, who: str, method: str, path: str, body: Any = None) -> dict[str, Any]:
        resp = http.request(method, f"{self.custody}/{path}", json=body, headers={"X-Vault-Token": self.tokens[who]})
        if resp.status_code >= 300:
            raise RuntimeError(f"{method} {path}: HTTP {resp.status_code} {resp.text[:200]}")
        result: dict[str, Any] = resp.json()
        return result

    def accounts(self, n: int, tier: str) -> list[str]:
        names = [f"pypi/bench-{tier[:4]}-{secrets.token_hex(4)}" for _ in range(n)]
        for name in names:
            self.call(self.http, "security", "POST", f"accounts/{name}", {"owner": "o@example.com", "tier": tier})
            codes = [secrets.token_hex(8) for _ in range(8)]
            self.call(self.http, "security", "POST", f"accounts/{name}/codes", {"codes": codes})
        return names

    def service_token(self, state: dict[str, Any], directory: Path) -> str:
        admin = {"X-Vault-Token": self.tokens["root"]}
        role_id = self.http.get(f"{self.vault}/auth/approle/role/custody-service/role-id", headers=admin).json()
        secret_id = (directory / "service-secret-id").read_text().strip()
        auth = self.http.post(f"{self.vault}/auth/approle/login",
                              json={"role_id": role_id["data"]["role_id"], "secret_id": secret_id}).json()
        return str(auth["auth"]["client_token"])

    def raw_reveal(self, http: httpx.Client, service: str, n: int) -> None:
        """The Vault round trips of one reveal, made directly: what a reveal cannot do without."""
        caller = {"X-Vault-Token": self.tokens["engineer"]}
        svc = {"X-Vault-Token": service}
        kv = f"{self.vault}/custody-kv"
        grant, codes, reveal = f"bench/raw/grant-{n}", f"bench/raw/codes-{n}", f"bench/raw/reveal-{n}"
        http.get(f"{self.vault}/auth/token/lookup-self", headers=caller)
        http.post(f"{self.vault}/sys/capabilities-self", json={"paths": ["custody/grants/x/reveal"]}, headers=caller)
        http.get(f"{kv}/data/{grant}", headers=svc)
        http.get(f"{kv}/data/{codes}", headers=svc)
        http.post(f"{kv}/data/{grant}", json={"data": {"s": "revealing"}, "options": {"cas": 1}}, headers=svc)
        http.get(f"{kv}/data/{codes}", headers=svc)
        http.post(f"{kv}/data/{codes}", json={"data": {"n": n}, "options": {"cas": 1}}, headers=svc)
        http.post(f"{kv}/data/{reveal}", json={"data": {"code": "0" * 16}, "options": {"cas": 0}}, headers=svc)
        http.get(f"{kv}/data/{reveal}", headers=svc | {"X-Vault-Wrap-TTL": "300s"})
        http.delete(f"{kv}/metadata/{reveal}", headers=svc)
        http.post(f"{kv}/data/{grant}", json={"data": {"s": "revealed"}, "options": {"cas": 2}}, headers=svc)

    def prepare_raw(self, service: str, count: int) -> None:
        svc = {"X-Vault-Token": service}
        for n in range(count):
            for key in (f"bench/raw/grant-{n}", f"bench/raw/codes-{n}"):
                self.http.post(f"{self.vault}/custody-kv/data/{key}", json={"data": {"n": 0}, "options": {"cas": 0}},
                               headers=svc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_load", description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=200, help="operations of each kind per concurrency level")
    parser.add_argument("--levels", default="1,10,50")
    args = parser.parse_args(argv or [])
    levels = [int(x) for x in args.levels.split(",")]
    ops = args.ops
    with tempfile.TemporaryDirectory(prefix="custody-bench-") as tmp:
        dev = DevStack(Path(tmp))
        state = dev.up(extra_env={"CUSTODY_LOG_LEVEL": "warning"})
        try:
            return _run(Bench(state), state, Path(tmp), levels, ops)
        finally:
            dev.down()


def _run(bench: Bench, state: dict[str, Any], directory: Path, levels: list[int], ops: int) -> int:
    total = ops * len(levels)
    started = time.perf_counter()
    standard = bench.accounts(-(-total // 8), "standard")  # 8 codes each: one per reveal
    critical = bench.accounts(4, "critical")
    pending = [bench.call(bench.http, "engineer", "POST", f"accounts/{critical[n % 4]}/grants",
                          {"reason": REASON})["data"]["id"] for n in range(total)]
    print(f"setup: {len(standard) + 4} accounts, {total} pending grants in {time.perf_counter() - started:.1f}s")
    rows: list[tuple[str, int, list[float]]] = []
    granted: list[tuple[int, str]] = []
    lock = threading.Lock()

    def request(http: httpx.Client, n: int) -> None:
        gid = bench.call(http, "engineer", "POST", f"accounts/{standard[n // 8]}/grants", {"reason": REASON})
        with lock:
            granted.append((n, gid["data"]["id"]))

    def approve(http: httpx.Client, gid: str) -> None:
        bench.call(http, "approver", "POST", f"grants/{gid}/approve", {"comment": "bench"})

    def reveal(http: httpx.Client, gid: str) -> None:
        bench.call(http, "engineer", "POST", f"grants/{gid}/reveal")

    for i, clients in enumerate(levels):
        rows.append(("request", clients, run_level(clients, list(range(i * ops, (i + 1) * ops)), request)))
    for i, clients in enumerate(levels):
        rows.append(("approve", clients, run_level(clients, pending[i * ops:(i + 1) * ops], approve)))
    # Reveals of one account share its code set (check-and-set on one record); interleave accounts so the figure
    # is the service's cost, not a queue on one record, which test_concurrency covers.
    order = [gid for _, gid in sorted(granted, key=lambda item: (item[0] % 8, item[0] // 8))]
    for i, clients in enumerate(levels):
        rows.append(("reveal", clients, run_level(clients, order[i * ops:(i + 1) * ops], reveal)))

    service = bench.service_token(state, directory)
    raw_n = min(ops, 200)
    bench.prepare_raw(service, raw_n * len(levels))
    # The same Vault round trips, made directly, at every concurrency level: what Vault alone allows on this
    # machine, so a latency figure can be read against the floor it stands on.
    raws = {clients: run_level(clients, list(range(i * raw_n, (i + 1) * raw_n)),
                               lambda http, n: bench.raw_reveal(http, service, n))
            for i, clients in enumerate(levels)}
    raw = raws[levels[0]]
    one_client_reveal = next(lat for op, c, lat in rows if op == "reveal" and c == levels[0])

    print(f"\n{'operation':<10}{'clients':>8}{'ops':>6}{'p50 ms':>9}{'p99 ms':>9}{'ops/s':>8}")
    worst = 0.0
    for op, clients, lat in rows:
        wall = sum(lat) / clients / 1000
        print(f"{op:<10}{clients:>8}{len(lat):>6}{pct(lat, 50):>9.1f}{pct(lat, 99):>9.1f}{len(lat) / wall:>8.0f}")
        if clients == max(levels):
            worst = max(worst, pct(lat, 99))
    ratio = statistics.median(one_client_reveal) / statistics.median(raw)
    print(f"\nraw Vault round trips of one reveal (11 calls, 1 client): p50 {pct(raw, 50):.1f} ms, "
          f"p99 {pct(raw, 99):.1f} ms")
    print(f"reveal / raw (p50, {levels[0]} client): {ratio:.2f}x   (target <= 2x: {'met' if ratio <= 2 else 'MISSED'})")
    print(f"\n{'raw reveal':<10}{'clients':>8}{'p50 ms':>9}{'p99 ms':>9}{'ops/s':>8}{'custody/raw p99':>17}")
    for clients, lat in raws.items():
        wall = sum(lat) / clients / 1000
        mine = next(lt for op, c, lt in rows if op == "reveal" and c == clients)
        print(f"{'':<10}{clients:>8}{pct(lat, 50):>9.1f}{pct(lat, 99):>9.1f}{len(lat) / wall:>8.0f}"
              f"{pct(mine, 99) / pct(lat, 99):>16.2f}x")
    print(f"p99 at {max(levels)} clients, worst operation: {worst:.1f} ms   "
          f"(target < 100 ms: {'met' if worst < 100 else 'MISSED'})")
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
