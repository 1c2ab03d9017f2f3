"""Ways around custody that the audit summary must still report.

Over a real OpenBao audit log of them (tests/fixtures/audit/evasion.log, recorded by record_evasion.py next to it:
its docstring lists what was played), and over real lines of it and of scenario.log with one field edited.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custody.auditlog import (
    Partial,
    TimeArgError,
    parse_time,
    read_lines,
    render,
    summarize,
    summarize_lines,
    summarize_partial,
)
from custody.auditlog.entry import Entry, decode
from custody.auditlog.extract import Extractor, norm_path
from custody.auditlog.facts import MAX_TTL
from custody.auditlog.model import AnomalyKind, Severity, Summary, UnwrapStatus
from custody.auditlog.reader import Prefilter
from custody.auditlog.timeparse import norm_time

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "audit"
EVASION = FIXTURES / "evasion.log"
ENT = json.loads((FIXTURES / "evasion.meta.json").read_text())["entities"]
LINES = EVASION.read_bytes().splitlines(keepends=True)
SCENARIO = (FIXTURES / "scenario.log").read_bytes().splitlines(keepends=True)
FORGED_META = {"display_name": "approle", "role_name": "custody-service"}


@pytest.fixture(scope="module")
def summary() -> Summary:
    return summarize([EVASION], workers=1)


def find(lines: list[bytes], pred: Callable[[dict[str, Any]], bool]) -> list[bytes]:
    return [ln for ln in lines if pred(orjson.loads(ln))]


def one(lines: list[bytes], pred: Callable[[dict[str, Any]], bool]) -> bytes:
    (line,) = find(lines, pred)
    return line


def edit(line: bytes, change: Callable[[dict[str, Any]], None]) -> bytes:
    """The line with ``change`` applied to its entry (orjson keeps Vault's key order)."""
    e = orjson.loads(line)
    change(e)
    return orjson.dumps(e) + b"\n"


def is_service(e: dict[str, Any]) -> bool:
    auth = e.get("auth") or {}
    return auth.get("display_name") == "approle" and (auth.get("metadata") or {}).get("role_name") == "custody-service"


def response_on(path: str, op: str) -> Callable[[dict[str, Any]], bool]:
    return lambda e: e["type"] == "response" and e["request"]["path"] == path and e["request"]["operation"] == op


def handout(gid: str) -> Callable[[dict[str, Any]], bool]:
    return lambda e: response_on(f"custody-kv/data/reveals/{gid}", "read")(e) and is_service(e)


def anomalies(s: Summary, kind: AnomalyKind, grant_id: str | None = None) -> list[Any]:
    return [a for a in s.anomalies if a.kind is kind and (grant_id is None or a.grant_id == grant_id)]


# --- 1. a token forged to look like the service ----------------------------------------------------------------


def test_token_forged_as_the_service_is_direct_access(summary: Summary) -> None:
    forged = [a for a in anomalies(summary, AnomalyKind.DIRECT_ACCESS) if a.path.startswith("custody-kv/")]
    assert {(a.operation, a.path) for a in forged} == {
        ("read", "custody-kv/data/codes/pypi/acme"),
        ("list", "custody-kv/metadata/codes/pypi/"),
        ("delete", "custody-kv/metadata/accounts/pypi/acme"),
    }
    assert all(a.severity is Severity.CRITICAL and a.principal.display_name == "token" for a in forged)
    assert next(a for a in forged if a.operation == "read").account == "pypi/acme"


def test_prefilter_never_takes_a_forged_line_for_the_service() -> None:
    rules = Prefilter("custody-kv", "custody-service")
    forged = find(LINES, lambda e: e["type"] == "response" and (e.get("auth") or {}).get("metadata") == FORGED_META)
    assert len(forged) == 3
    assert not any(rules.skip(ln) for ln in forged)
    # the service's own reads, lists and deletes are still dropped unparsed (what keeps the summary fast)
    own = find(
        LINES,
        lambda e: (
            e["type"] == "response"
            and is_service(e)
            and e["request"]["operation"] in ("read", "delete", "list")
            and "/reveals/" not in e["request"]["path"].replace("/metadata/reveals/", "")
        ),
    )
    assert len(own) >= 10 and all(rules.skip(ln) for ln in own)


def _lookalikes() -> list[bytes]:
    """A real read of the service, made to look like it in every way but the structure that decides."""
    read = find(LINES, lambda e: response_on("custody-kv/data/grants/g-0101", "read")(e) and is_service(e))[0]

    def forged_token(e: dict[str, Any]) -> None:  # what `bao token create -metadata ...` gives
        e["auth"]["display_name"] = "token"
        e["auth"]["metadata"] = FORGED_META

    def named_token(e: dict[str, Any]) -> None:  # `bao token create -display-name approle`
        e["auth"]["display_name"] = "token-approle"

    def other_role_service_elsewhere(e: dict[str, Any]) -> None:  # the right names, nested elsewhere in the entry
        e["auth"]["metadata"] = {"role_name": "rotation-cron"}
        e["response"]["data"] = {"auth": {"display_name": "approle", "metadata": {"role_name": "custody-service"}}}

    def role_first(e: dict[str, Any]) -> None:  # the metadata's role right, the display name not
        e["auth"] = {"metadata": {"role_name": "custody-service"}, **e["auth"], "display_name": "token"}

    return [edit(read, f) for f in (forged_token, named_token, other_role_service_elsewhere, role_first)]


def test_service_lookalikes_are_parsed_and_reported() -> None:
    rules = Prefilter("custody-kv", "custody-service")
    for line in _lookalikes():
        assert not rules.skip(line)
        (a,) = summarize_lines([line]).anomalies
        assert a.kind is AnomalyKind.DIRECT_ACCESS and a.path == "custody-kv/data/grants/g-0101"


AUTH_NAMES = st.sampled_from(["approle", "token", "token-approle", "root", "", "approle "]) | st.text(max_size=12)
ROLE_META = st.dictionaries(
    st.sampled_from(["role_name", "display_name", "metadata", "operation"]) | st.text(max_size=8),
    st.sampled_from(["custody-service", "approle", "read", "rotation-cron"]) | st.text(max_size=8),
    max_size=3,
)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(find(LINES, lambda e: e["type"] == "response" and is_service(e))),
    AUTH_NAMES,
    ROLE_META | st.none() | st.just("custody-service"),
    st.booleans(),
)
def test_prefilter_skips_only_what_the_structure_says_is_the_service(
    line: bytes, name: str, meta: Any, elsewhere: bool
) -> None:
    def change(e: dict[str, Any]) -> None:
        e["auth"]["display_name"] = name
        e["auth"]["metadata"] = meta
        if elsewhere:  # the service's names where they do not count
            e["request"]["data"] = {"auth": {"display_name": "approle", "metadata": {"role_name": "custody-service"}}}

    changed = edit(line, change)
    if Prefilter("custody-kv", "custody-service").skip(changed):
        e = decode(changed, Entry)  # the entry as the extractor reads it
        ex = Extractor()
        assert e is not None and ex.is_service(ex.auth_of(e.auth))  # ``auth`` is decoded apart, once per token


def test_a_write_naming_a_staging_path_in_its_data_is_parsed() -> None:
    """The service's staging writes of reveals/ are skipped unparsed; only the request's own path counts."""
    rules = Prefilter("custody-kv", "custody-service")
    staging = one(LINES, lambda e: response_on("custody-kv/data/reveals/g-0101", "create")(e) and is_service(e))
    assert rules.skip(staging)
    grant_write = find(LINES, lambda e: response_on("custody-kv/data/grants/g-0101", "update")(e) and is_service(e))[0]
    assert not rules.skip(grant_write)
    named = edit(grant_write, lambda e: e["request"]["data"]["data"].update(path="custody-kv/data/reveals/x"))
    assert b'"path":"custody-kv/data/reveals/x"' in named and not rules.skip(named)


@pytest.mark.parametrize("gap_bytes", [0, 10**12])
def test_markers_found_the_same_in_gaps_or_in_whole_passes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, gap_bytes: int
) -> None:
    from custody.auditlog import reader

    log = tmp_path / "audit.log"
    log.write_bytes(b"".join(SCENARIO[:200] + LINES + SCENARIO[200:]))
    whole = summarize([log], workers=1)
    monkeypatch.setattr(reader, "GAP_BYTES", gap_bytes)
    monkeypatch.setattr(reader, "CHUNK", 16384)  # many chunks, each with its own choice
    again = summarize([log], workers=1)
    assert again.anomalies == whole.anomalies and again.reveals == whole.reveals
    assert again.input.lines_custody == whole.input.lines_custody == 221 + len(LINES)


# --- 2. a mount moved ------------------------------------------------------------------------------------------


def test_every_remount_is_mount_admin(summary: Summary) -> None:
    moves = [a for a in summary.anomalies if a.path == "sys/remount"]
    assert len(moves) == 3  # another mount, the custody mount away, and back: from/to are HMAC'd in all
    assert all(a.kind is AnomalyKind.MOUNT_ADMIN and a.severity is Severity.HIGH for a in moves)
    assert all("HMAC" in a.detail and "may or may not be the custody mount" in a.detail for a in moves)
    assert all(
        any(m in ln for m in Prefilter("custody-kv", "x").markers)
        for ln in find(LINES, lambda e: e["request"]["path"] == "sys/remount")
    )


# --- 3. admin paths spelled another way ------------------------------------------------------------------------


def test_tune_through_an_encoded_slash_is_critical(summary: Summary) -> None:
    (tune,) = [a for a in summary.anomalies if a.path == "sys/mounts/custody-kv//tune"]
    assert tune.kind is AnomalyKind.MOUNT_ADMIN and tune.severity is Severity.CRITICAL
    assert "audit_non_hmac" in tune.detail


def test_disable_with_a_trailing_slash_is_reported(summary: Summary) -> None:
    (gone,) = [a for a in summary.anomalies if a.path == "sys/mounts/custody-kv/"]
    assert gone.kind is AnomalyKind.MOUNT_ADMIN and gone.operation == "delete"
    assert gone.severity is Severity.HIGH


def test_paths_are_normalised_wherever_they_are_compared() -> None:
    assert norm_path("sys/mounts/custody-kv//tune") == "sys/mounts/custody-kv/tune"
    assert norm_path("custody-kv//data///codes/x/") == "custody-kv/data/codes/x"
    root_read = one(
        SCENARIO,
        lambda e: response_on("custody-kv/data/codes/pypi/acme", "read")(e) and e["auth"]["display_name"] == "token",
    )
    odd = edit(root_read, lambda e: e["request"].update(path="custody-kv//data//codes/pypi/acme/"))
    (a,) = summarize_lines([odd]).anomalies
    assert (a.kind, a.account, a.path) == (AnomalyKind.DIRECT_ACCESS, "pypi/acme", "custody-kv//data//codes/pypi/acme/")
    # a hand-out whose path is spelled with a double slash is still a hand-out
    ho = edit(one(LINES, handout("g-0101")), lambda e: e["request"].update(path="custody-kv/data//reveals/g-0101"))
    assert [r.grant_id for r in summarize_lines([ho]).reveals] == ["g-0101"]


# --- 4. raw storage --------------------------------------------------------------------------------------------


def test_raw_storage_access_is_critical_direct_access(summary: Summary) -> None:
    raw = [a for a in summary.anomalies if a.path.startswith("sys/raw/")]
    done = [a for a in raw if a.kind is AnomalyKind.DIRECT_ACCESS]
    assert sorted(a.operation for a in done) == ["list", "list", "list", "read"]
    assert all(a.severity is Severity.CRITICAL and "raw storage" in a.detail for a in done)
    (refused,) = [a for a in raw if a.kind is not AnomalyKind.DIRECT_ACCESS]
    assert refused.kind is AnomalyKind.PERMISSION_DENIED and refused.principal.entity_id == ENT["mallory"]
    assert summary.totals.direct_accesses == 3 + 4  # the forged token's three, the raw four


# --- 5. unwrapping by reading cubbyhole/response ---------------------------------------------------------------


def test_unwrap_through_cubbyhole_response_is_unattributed(summary: Summary) -> None:
    wrap = orjson.loads(one(LINES, handout("g-0101")))["response"]["wrap_info"]["token"]
    reads = find(LINES, lambda e: e["request"]["path"] == "cubbyhole/response")
    assert {orjson.loads(ln)["request"]["client_token"] for ln in reads} == {wrap}  # the wrapping token itself
    r = next(r for r in summary.reveals if r.grant_id == "g-0101")
    assert r.unwrap_status is UnwrapStatus.UNATTRIBUTED
    assert [(u.path, u.ok) for u in r.unwraps] == [("cubbyhole/response", True), ("cubbyhole/response", False)]
    (a,) = anomalies(summary, AnomalyKind.UNWRAP_UNATTRIBUTED, "g-0101")
    assert a.severity is Severity.HIGH and a.path == "cubbyhole/response" and a.principal.display_name == ""
    (failed,) = anomalies(summary, AnomalyKind.UNWRAP_FAILED, "g-0101")  # the second read: already spent
    assert failed.path == "cubbyhole/response"


# --- 6. rewrapping ---------------------------------------------------------------------------------------------


def test_rewrap_by_root_is_wrong_principal_and_the_new_token_is_followed(summary: Summary) -> None:
    status = {r.grant_id: r.unwrap_status for r in summary.reveals}
    assert status == {
        "g-0101": UnwrapStatus.UNATTRIBUTED,
        "g-0102": UnwrapStatus.WRONG_PRINCIPAL,
        "g-0103": UnwrapStatus.WRONG_PRINCIPAL,
        "g-0104": UnwrapStatus.WRONG_PRINCIPAL,
    }

    def took(gid: str) -> list[tuple[str, str]]:
        return [(a.path, a.principal.display_name) for a in anomalies(summary, AnomalyKind.UNWRAP_WRONG_PRINCIPAL, gid)]

    rewrap, unwrap = "sys/wrapping/rewrap", "sys/wrapping/unwrap"
    assert took("g-0102") == [(rewrap, "token"), (unwrap, "userpass-mallory")]
    assert took("g-0103") == [(rewrap, "token"), (rewrap, "token"), (unwrap, "userpass-mallory")]  # rewrapped twice
    assert took("g-0104") == [(rewrap, "token")]  # erin, the requester, unwrapped the new token herself
    g4 = next(r for r in summary.reveals if r.grant_id == "g-0104")
    assert [(u.path, u.principal.entity_id) for u in g4.unwraps] == [(rewrap, ""), (unwrap, ENT["erin"])]
    people = {p.principal.entity_id: p for p in summary.principals}
    assert people[ENT["erin"]].unwrapped == 1 and people[ENT["mallory"]].unwrapped == 2
    assert not anomalies(summary, AnomalyKind.NEVER_UNWRAPPED)


def test_a_rewrap_chain_split_across_files_merges_to_the_whole(summary: Summary) -> None:
    def comparable(s: Summary) -> dict[str, Any]:
        d = s.model_dump(mode="json")
        d["input"].pop("files")
        return d

    rewraps = [i for i, ln in enumerate(LINES) if b"sys/wrapping/rewrap" in ln]
    cut = rewraps[1] + 1  # g-0102's rewrap in one file, the unwrap of its new token in the other
    total = Partial()
    for part in (LINES[cut:], LINES[:cut]):
        total.merge(read_lines(part))
    merged = summarize_partial(total)
    assert comparable(merged) == comparable(summary)
    assert {r.grant_id: r.unwrap_status for r in merged.reveals}["g-0102"] is UnwrapStatus.WRONG_PRINCIPAL


def test_csv_lists_the_call_that_took_the_code(summary: Summary) -> None:
    csv = render(summary, "csv")
    assert "sys/wrapping/rewrap" in csv and "cubbyhole/response" in csv


# --- 7. hostile times and TTLs ---------------------------------------------------------------------------------

HOSTILE_TIMES = [
    "0001-01-01T00:00:00+01:00",  # year 0 once in UTC
    "2026-13-45T99:99:99.5Z",
    "abcdefghijTklmnopqr.stuvwxyzAZ",  # 30 characters shaped like Vault's times
    "\uff12\uff10\uff12\uff16-11-25T07:01:05.401134417Z",  # non-ASCII digits
    "2026-11-25T07:01:0\u0665.401134417Z",
    "9999-99-99T99:99:99.999999999Z",
    "2026-02-30T07:01:05.401134417Z",
]


@pytest.mark.parametrize("value", HOSTILE_TIMES)
def test_a_hand_out_with_a_hostile_time_is_an_invalid_line(value: str) -> None:
    lines = list(SCENARIO)
    i = lines.index(one(SCENARIO, handout("g-0006")))  # never unwrapped: its expiry is computed
    lines[i] = edit(lines[i], lambda e: e.update(time=value))
    s = summarize_lines(lines)
    assert s.input.lines_invalid == 1
    assert "g-0006" not in {r.grant_id for r in s.reveals} and len(s.reveals) == 7
    assert render(s, "html")


@pytest.mark.parametrize("value", HOSTILE_TIMES)
def test_a_marker_line_with_a_hostile_time_is_an_invalid_line(value: str) -> None:
    lines = list(SCENARIO)
    last = max(i for i, ln in enumerate(lines) if b"custody-kv" in ln and b'"type":"response"' in ln)
    real_end = norm_time(orjson.loads(lines[last])["time"])
    lines[last] = edit(lines[last], lambda e: e.update(time=value))
    s = summarize_lines(lines)
    assert s.input.lines_invalid == 1
    assert s.input.last_entry < real_end  # the edited line is not taken for the end of the log
    assert {r.grant_id: r.unwrap_status for r in s.reveals}["g-0006"] is UnwrapStatus.NEVER


def test_a_huge_wrap_ttl_is_clamped() -> None:
    lines = list(SCENARIO)
    i = lines.index(one(SCENARIO, handout("g-0006")))
    lines[i] = edit(lines[i], lambda e: e["response"]["wrap_info"].update(ttl=10**18))
    s = summarize_lines(lines)
    g6 = next(r for r in s.reveals if r.grant_id == "g-0006")
    assert g6.wrap_ttl_seconds == MAX_TTL and g6.unwrap_status is UnwrapStatus.OUTSTANDING


def test_norm_time_keeps_only_real_times_in_fixed_width() -> None:
    for value in HOSTILE_TIMES:
        assert norm_time(value) == "", value
    assert norm_time("1999-01-01T00:30:00+01:00") == "1998-12-31T23:30:00.000000000Z"
    assert norm_time("1969-12-31T23:59:59Z") == "" and norm_time("9001-01-01T00:00:00.1Z") == ""
    assert norm_time("2024-02-29T23:59:59.5Z") == "2024-02-29T23:59:59.500000000Z"
    assert norm_time("2026-11-25T07:01:05.401134417Z") == "2026-11-25T07:01:05.401134417Z"


def test_window_bounds_outside_the_range_of_entry_times() -> None:
    assert parse_time("1800-01-01") == "1970-01-01T00:00:00.000000000Z"  # --until 1800: nothing, not everything
    assert parse_time("9999-12-31") == "9000-12-31T23:59:59.999999000Z"
    with pytest.raises(TimeArgError):
        parse_time("0001-01-01T00:00:00+01:00")


def test_the_kv_settings_are_mount_admin_not_a_read_of_codes() -> None:
    """Bootstrap (root) reads <mount>/config on every run: that shows no code and must not read as an incident;
    changing it (check-and-set, version limits) is a mount change that matters."""
    direct = find(LINES, lambda e: e["type"] == "response" and "root" in (e.get("auth") or {}).get("policies", [])
                  and e["request"]["path"].startswith("custody-kv/data/codes/")
                  and e["request"]["operation"] == "read")[0]

    def at_config(op: str) -> Callable[[dict[str, Any]], None]:
        def change(e: dict[str, Any]) -> None:
            e["request"]["path"], e["request"]["operation"] = "custody-kv/config", op
        return change

    found = {}
    for op in ("read", "update"):
        s = summarize_lines([edit(direct, at_config(op))])
        (a,) = s.anomalies
        found[op] = (a.kind, a.severity)
    assert found == {"read": (AnomalyKind.MOUNT_ADMIN, Severity.LOW),
                     "update": (AnomalyKind.MOUNT_ADMIN, Severity.HIGH)}
    (codes,) = summarize_lines([direct]).anomalies
    assert (codes.kind, codes.severity) == (AnomalyKind.DIRECT_ACCESS, Severity.CRITICAL)


def test_a_mistyped_mount_is_not_a_clean_log() -> None:
    right = summarize([EVASION], workers=1)
    assert not any("no write by the custody service" in w for w in right.warnings)
    wrong = summarize([EVASION], mount="custody-kvv", workers=1)
    assert wrong.totals.reveals == 0
    assert any("check --mount" in w for w in wrong.warnings), wrong.warnings
