"""Grant spam against a real (embedded) OpenBao: what thousands of other people's open grants cost everyone else.

    python -m benchmarks.bench_grants [--grants 2000]

Seeds N open grants on one account, written as the service writes them (one requester, limits aside: what let them
pile up before there were limits), then measures through the API of the stack's server:

- a requester's listing, who has one grant of their own (median of 5), and the account's listing by an auditor;
- 50 simultaneous reveals of one grant: how many answered 200, how many 409;
- the rotation of the spammed account: how long, and how many grants it revoked.
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from benchmarks import stop_cleanly_on_sigterm
from benchmarks.bench_sweep import _service_store
from custody.bootstrap import Admin
from custody.cli.client import Client
from custody.devkit import add_person
from custody.devstack import DevStack
from custody.domain import grants as rules
from custody.domain.events import Event
from custody.domain.models import utcnow
from custody.fanout import concurrently
from custody.logging import configure
from custody.usecases.suite import UseCases

REASON = "Benchmark: grant spam on one account, to see what it costs everyone else"


def _person(state: dict[str, Any], name: str, group: str) -> str:
    return add_person(Admin(state["vault_addr"], state["tokens"]["root"]), name, [group])[0]


def _account(state: dict[str, Any], name: str) -> str:
    security = Client(state["custody_addr"], state["tokens"]["security"])
    security.call("POST", f"accounts/{name}", {"owner": "owner@example.com"})
    security.call("POST", f"accounts/{name}/codes", {"codes": [f"{i:016x}" for i in range(1, 9)]})
    return name


def _timed(fn: Any, n: int = 5) -> float:
    took = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        took.append(time.perf_counter() - start)
    return statistics.median(took)


def _race(state: dict[str, Any], token: str, grant_id: str, n: int = 50) -> Counter[int]:
    start = threading.Barrier(n)

    def reveal(_: int) -> int:
        with httpx.Client(base_url=state["custody_addr"], timeout=60) as http:
            start.wait()
            return http.post(f"/v1/custody/grants/{grant_id}/reveal", headers={"X-Vault-Token": token}).status_code

    with ThreadPoolExecutor(max_workers=n) as pool:
        return Counter(pool.map(reveal, range(n)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_grants", description=__doc__.split("\n")[0])
    parser.add_argument("--grants", type=int, default=2000)
    args = parser.parse_args(argv)
    configure("json", "warning", stream=io.StringIO())
    stop_cleanly_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="custody-bench-") as tmp:
        stack = DevStack(Path(tmp))
        state = stack.up(extra_env={"CUSTODY_LOG_LEVEL": "warning"})
        try:
            return _run(state, Path(tmp), args.grants)
        finally:
            stack.down()


def _run(state: dict[str, Any], directory: Path, n: int) -> int:
    store = _service_store(state, directory)
    uc = UseCases.build(store, store)
    spammed, quiet = _account(state, "pypi/bench-spammed"), _account(state, "pypi/bench-quiet")
    spammer = uc.authz.caller(_person(state, "spammer", "custody-requesters"))
    requester = _person(state, "requester", "custody-requesters")
    now = utcnow()
    if hasattr(uc.ctx.repo.grants, "ensure_index"):
        uc.ctx.repo.grants.ensure_index(spammer, now)
    subject = uc.ctx.repo.accounts.get(spammed)
    spam = [rules.request(subject, spammer, REASON, None, now, timedelta(hours=24), codes_generation=1)
            for _ in range(n)]
    start = time.perf_counter()
    concurrently(lambda g: uc.ctx.repo.grants.create(g, Event.grant_requested, spammer, now), spam, workers=32)
    print(f"seeded {n} open grants on {spammed} in {time.perf_counter() - start:.1f}s")
    own = Client(state["custody_addr"], requester)
    grant = own.call("POST", f"accounts/{quiet}/grants", {"reason": REASON})["data"]["id"]
    auditor = Client(state["custody_addr"], state["tokens"]["auditor"])
    listing = _timed(lambda: own.call("GET", "grants", params={"list": "true"}))
    by_account = _timed(lambda: auditor.call("GET", "grants", params={"list": "true", "account": quiet}))
    print(f"listing of a requester with 1 grant, among {n + 1}: {listing:.3f}s (median of 5)")
    print(f"listing of an account with 1 grant, by an auditor: {by_account:.3f}s (median of 5)")
    answers = _race(state, requester, grant)
    print(f"50 simultaneous reveals of one grant: {answers[200]} answered 200, {answers[409]} 409, "
          f"other {sum(v for k, v in answers.items() if k not in (200, 409))}")
    security = Client(state["custody_addr"], state["tokens"]["security"], timeout=600)
    start = time.perf_counter()
    try:
        result = security.call("POST", f"accounts/{spammed}/rotate",
                               {"codes": [f"{i:016x}" for i in range(11, 19)], "reason": "grant spam"})["data"]
        print(f"rotation of {spammed} with {n} open grants: {time.perf_counter() - start:.1f}s, "
              f"{result['status']}, {len(result['revoked_grants'])} revoked")
    except Exception as exc:
        print(f"rotation of {spammed} with {n} open grants failed after {time.perf_counter() - start:.1f}s: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
