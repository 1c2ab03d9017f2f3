"""Rotation sweep over many accounts against a real (embedded) OpenBao.

    python -m benchmarks.bench_sweep [--accounts 10000] [--workers 16]

Seeds N accounts straight into a fresh dev OpenBao (a mix: old sets, sets with reveals, sets low on codes, accounts
without codes, a tenth without a summary as if deposited before summaries existed), then times:

- the raw Vault calls a sweep cannot avoid: LIST of the accounts and one metadata read per account, at the same
  concurrency (the floor);
- a first sweep (it reads the sets that have no summary, and writes their summary);
- a second sweep (every account from its summary).
"""

from __future__ import annotations

import argparse
import io
import secrets
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from benchmarks import stop_cleanly_on_sigterm
from custody.bootstrap import Admin
from custody.devstack import DevStack
from custody.domain.models import Account, CodeSet, utcnow
from custody.domain.rotation import codeset_facts, summary_of, summary_to_metadata
from custody.logging import configure
from custody.repo.records import account_path, account_to_record, codes_path, codeset_to_record
from custody.store import Store
from custody.usecases.suite import UseCases


def _service_store(state: dict[str, Any], directory: Path) -> Store:
    admin = Admin(state["vault_addr"], state["tokens"]["root"])
    role_id = admin.call("GET", "auth/approle/role/custody-service/role-id")["data"]["role_id"]
    store = Store(state["vault_addr"])
    store.use_approle(role_id, (directory / "service-secret-id").read_text().strip())
    return store


def _seed_one(store: Store, i: int) -> None:
    now = utcnow()
    account_id = f"pypi/bench-{i:06d}"
    account = Account(id=account_id, owner="owner@example.com", created_at=now, created_by="bench")
    store.write(account_path(account_id), account_to_record(account) | {"event": "account.created"}, cas=0)
    kind = i % 10
    if kind == 9:
        return  # no codes at all
    age = timedelta(days=400) if kind == 1 else timedelta(days=i % 300)
    cs = CodeSet.new(account_id, [secrets.token_hex(8) for _ in range(8)], "bench", now - age)
    used = {2: 1, 3: 6}.get(kind, 0)  # one reveal; or only two codes left
    codes = tuple(c.model_copy(update={"consumed_at": now, "grant_id": "gr_aaaaaaaaaaaaaaaa"}) if n < used else c
                  for n, c in enumerate(cs.codes))
    cs = cs.model_copy(update={"codes": codes})
    record = codeset_to_record(cs) | {"event": "codes.deposited"}
    version = store.write(codes_path(account_id), record, cas=0)
    if kind != 4:  # kind 4: as if deposited before summaries existed
        # What a deposit leaves behind, in one call instead of three (a fresh key's metadata is at version 0).
        summary = summary_to_metadata(summary_of(codeset_facts(cs), version))
        assert summary is not None
        store.write_custom_metadata(codes_path(account_id), summary, 0)


def _raw_floor(store: Store, ids: list[str], workers: int) -> float:
    start = time.perf_counter()
    listed = [f"{p.rstrip('/')}/{u}" for p in store.list_keys("accounts/") for u in store.list_keys(f"accounts/{p}")]
    store.list_keys("rotating/")
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda a: store.metadata(codes_path(a)), listed))
    assert len(listed) == len(ids)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_sweep", description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args(argv)
    configure("json", "warning", stream=io.StringIO())  # 10,000 "rotation.due" lines are not the point here
    stop_cleanly_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="custody-bench-") as tmp:
        stack = DevStack(Path(tmp))
        state = stack.up()
        try:
            store = _service_store(state, Path(tmp))
            start = time.perf_counter()
            with ThreadPoolExecutor(max_workers=32) as pool:
                list(pool.map(lambda i: _seed_one(store, i), range(args.accounts)))
            seeded = time.perf_counter() - start
            print(f"seeded {args.accounts} accounts in {seeded:.1f}s ({args.accounts / seeded:.0f}/s)")
            ids = [f"pypi/bench-{i:06d}" for i in range(args.accounts)]
            floor = _raw_floor(store, ids, args.workers)
            sweep = replace(UseCases.build(store, store).sweep, workers=args.workers)
            token = state["tokens"]["rotation"]
            results = []
            for label in ("first sweep", "second sweep"):
                start = time.perf_counter()
                result = sweep.sweep(token)
                took = time.perf_counter() - start
                results.append(result)
                print(f"{label}: {took:.2f}s, {args.accounts / took:.0f} accounts/s, {took / floor:.2f}x the raw "
                      f"LIST + metadata reads ({floor:.2f}s); due {len(result['due'])}, overdue "
                      f"{len(result['overdue'])}, read from {result['read_from']}")
            expected_due = sum(1 for i in range(args.accounts) if i % 10 in (1, 2, 3, 9))
            assert len(results[-1]["due"]) == expected_due, (len(results[-1]["due"]), expected_due)
        finally:
            stack.down()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
