"""What `make bench` prints for load: custody's CPU per operation beside Vault's, and the reveal / raw Vault ratio
with its target and whether it holds."""

from __future__ import annotations

from benchmarks.bench_load import Level, cpu_lines, reveal_line


def level(op: str, clients: int, latencies: list[float], cpu: dict[str, float]) -> Level:
    return Level(op, clients, latencies, wall=1.0, cpu_ms=cpu)


ROWS = [
    level("request", 1, [5.0] * 10, {"vault": 4.0, "custody": 2.0}),
    level("request", 10, [20.0] * 30, {"vault": 3.0, "custody": 3.0}),
    level("reveal", 1, [10.0, 11.0, 12.0], {"vault": 8.0, "custody": 4.0}),
]


def test_cpu_per_operation_is_weighted_over_every_level() -> None:
    header, request, reveal = cpu_lines(ROWS)
    assert header.split() == ["CPU", "ms", "per", "operation", "custody", "vault", "custody/vault"]
    # request: custody (2*10 + 3*30) / 40 = 2.75, Vault (4*10 + 3*30) / 40 = 3.25
    assert request.split() == ["request", "2.8", "3.2", "0.85x"]
    assert reveal.split() == ["reveal", "4.0", "8.0", "0.50x"]


def test_cpu_not_measured_is_said_so() -> None:
    (_, line) = cpu_lines([level("approve", 1, [1.0], {})])
    assert "not measured" in line


def test_the_reveal_ratio_names_its_target_and_whether_it_holds() -> None:
    line, held = reveal_line([10.0, 11.0, 12.0], [6.0, 6.0, 6.0])
    assert held and "11.0 / 6.0 ms = 1.83x" in line and "target <= 2x: holds" in line
    line, held = reveal_line([10.0, 11.0, 12.0], [5.0, 5.0, 5.0])
    assert not held and "2.20x" in line and "MISSED" in line
