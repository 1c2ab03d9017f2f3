"""``make bench`` runs end to end: the load benchmark on a dev stack of its own, with a few operations. Its figures
mean nothing at this size; that it runs under the server's real rules does (the holding limits once made it fail,
and nothing but a run of the benchmark would have said so)."""

from __future__ import annotations

import re

import pytest

from benchmarks import bench_load

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_the_load_benchmark_runs_under_the_servers_rules(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_load.main(["--ops", "5", "--levels", "1,2"]) == 0
    out = capsys.readouterr().out
    for op in ("request", "approve", "reveal"):
        assert re.search(rf"^{op}\s+2\s+5\s", out, re.M), out
    assert re.search(r"reveal / raw Vault round trips \(10 calls; .* = [0-9.]+x", out), out
