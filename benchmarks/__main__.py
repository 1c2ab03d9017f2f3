"""Run every benchmark in turn: ``python -m benchmarks [name ...]`` (names: cli, audit, sweep, load, grants)."""

from __future__ import annotations

import importlib
import sys

BENCHES = {"cli": "benchmarks.bench_cli", "audit": "benchmarks.bench_audit", "sweep": "benchmarks.bench_sweep",
           "load": "benchmarks.bench_load", "grants": "benchmarks.bench_grants"}


def main(argv: list[str]) -> int:
    names = argv or list(BENCHES)
    failed = 0
    for name in names:
        module = BENCHES.get(name)
        if module is None:
            print(f"unknown benchmark {name!r}; known: {', '.join(BENCHES)}", file=sys.stderr)
            return 2
        print(f"\n=== {name} ({module}) ===", flush=True)
        code = importlib.import_module(module).main([])
        failed |= bool(code)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
