"""Benchmark of the whole ``custody audit summary`` command against a ``jq`` baseline, and its peak memory on a
hostile log.

    python -m benchmarks.bench_audit [--size-mb 400] [--hostile-mb 4096] [--dir /tmp/custody-bench] [--seed LOG]
                                     [--keep] [--only mixed|custody|hostile] [--runs 3]
                                     [--save-json DIR] [--compare DIR]

1. Records a seed log from a throw-away OpenBao dev server (tests/fixtures/audit/record.py: custody traffic plus
   non-custody KV reads/writes and token lookups), or takes ``--seed``.
2. Replicates it to ``--size-mb`` twice, giving every copy fresh request ids, grant ids and wrapping-token HMACs:
   ``mixed.log`` with about 2% custody lines, and ``custody.log`` with custody lines only.
3. Over each file runs the whole command as a user would (``custody audit summary --log F --format json``, process
   start included; PSS of it and its worker sampled every 20 ms) and ``jq -c 'select(.type=="response") |
   [.request.path, .auth.display_name]'``, ``--runs`` times in turn, and prints each run's wall-clock and CPU
   times with the load average of the machine, then the median ratios to jq and the peak memory, each with its
   target and whether it holds: >= 15x jq on the mixed log, >= 5x on the custody log, <= 200 MB.
4. Writes ``hostile.log`` of ``--hostile-mb``: what any Vault user can produce, millions of refused direct reads
   and lists of the custody mount, each by a principal of its own on an account path of its own, and unwraps of
   wrapping tokens that do not exist, around one copy of the seed. The summary must stay within 200 MB (its
   anomalies past the listing bound are counted, with first and last time and top offenders).

The generated files go to ``--dir`` (default under /tmp), never into the repository, one at a time; they are
deleted unless ``--keep`` (then the next run with the same ``--dir`` reuses the seed and the logs made from it).
``--save-json DIR`` keeps each summary as ``DIR/<log>.json``; ``--compare DIR`` checks that each summary is the
same as the one saved there (the same seed gives the same logs: pass ``--seed``), so that a change to the reader
can be shown to change no figure. Targets are checked here, as ratios measured side by side, never in timed tests.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
RECORDER = ROOT / "tests" / "fixtures" / "audit" / "record.py"
FIXTURE = ROOT / "tests" / "fixtures" / "audit" / "scenario.log"
# what makes a seed line custody traffic: the mount, its configuration, unwraps, and the service's staging of a
# code in its cubbyhole (where the service stages reveals now; the seed recorder stages them in the mount)
MARKERS = (b"custody-kv/", b"sys/mounts/custody-kv", b"sys/wrapping/unwrap", b'"path":"cubbyhole/reveals/')
JQ_FILTER = 'select(.type=="response") | [.request.path, .auth.display_name]'
MEMORY_MB = 200
RATIO = {"mixed": 15.0, "custody": 5.0}


def _reader_kind() -> str:
    """How the installed reader walks lines and searches bytes: a figure means little without it."""
    from custody.auditlog import _fastsearch, partial, reader

    walk = "line walk in C" if reader.compiled() else "line walk in Python (custody/auditlog/_scan.c not built)"
    fold = "grant fold in C" if partial.compiled() else "grant fold in Python (custody/auditlog/_fold.c not built)"
    search = "glibc memmem" if _fastsearch.available() else "bytes.find (no memmem)"
    return f"{walk}, {fold}, byte search with {search}"


def record_seed(out: Path, port: int) -> Path:
    spec = importlib.util.spec_from_file_location("custody_audit_record", RECORDER)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {RECORDER}")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.run(out, port, 20, 1.0)
    return out


def _template(lines: list[bytes]) -> tuple[list[str], list[str]]:
    """Split a block of lines into literal text and the values each copy must renew."""
    variable: set[str] = set()
    for line in lines:
        e = orjson.loads(line)
        req = e.get("request") or {}
        if req.get("id"):
            variable.add(req["id"])
        wrap = ((e.get("response") or {}).get("wrap_info") or {}).get("token")
        if wrap:
            variable.add(wrap)
        m = re.search(r"/(grants|reveals)/(g-[0-9a-z-]+|gr_[a-z2-7]{16})", req.get("path") or "")
        if m:
            variable.add(m.group(2))
    text = b"".join(lines).decode()
    if not variable:
        return [text], []
    pattern = re.compile("|".join(re.escape(v) for v in sorted(variable, key=len, reverse=True)))
    literals: list[str] = []
    values: list[str] = []
    pos = 0
    for m in pattern.finditer(text):
        literals.append(text[pos : m.start()])
        values.append(m.group(0))
        pos = m.end()
    literals.append(text[pos:])
    return literals, values


def _renew(value: str, copy: int) -> str:
    """A fresh value of the same shape for copy number ``copy``."""
    tag = f"{copy:08x}"
    if value.startswith("g-"):
        return f"{value}-{tag}"
    if value.startswith("gr_"):  # the service's grant ids: gr_ and 16 base32 letters
        return value[:-7] + "".join("abcdefghijklmnop"[int(c, 16)] for c in tag[1:])
    return value[:-8] + tag  # request ids (UUIDs) and HMACs: replace the last 8 hex digits


def _expand(literals: list[str], values: list[str], copy: int) -> bytes:
    out = [literals[0]]
    for v, lit in zip(values, literals[1:], strict=True):
        out.append(_renew(v, copy))
        out.append(lit)
    return "".join(out).encode()


def generate(seed: Path, out: Path, size_mb: int, custody_share: float | None) -> dict[str, float]:
    """Write ``out`` of about ``size_mb`` MB; ``custody_share`` None means custody lines only."""
    lines = [ln if ln.endswith(b"\n") else ln + b"\n" for ln in seed.read_bytes().splitlines(keepends=True)]
    custody = [ln for ln in lines if any(m in ln for m in MARKERS)]
    noise = [ln for ln in lines if not any(m in ln for m in MARKERS)]
    c_lit, c_val = _template(custody)
    n_lit, n_val = _template(noise)
    noise_per_block = 0
    if custody_share is not None:
        noise_per_block = round(len(custody) * (1 - custody_share) / custody_share / max(len(noise), 1))
    target = size_mb * 1024 * 1024
    written = copies = c_lines = n_lines = 0
    with out.open("wb") as f:
        while written < target:
            block = _expand(c_lit, c_val, copies)
            f.write(block)
            written += len(block)
            c_lines += len(custody)
            for k in range(noise_per_block):
                nb = _expand(n_lit, n_val, copies * max(noise_per_block, 1) + k)
                f.write(nb)
                written += len(nb)
                n_lines += len(noise)
            copies += 1
    return {"bytes": written, "lines": c_lines + n_lines, "custody_share": c_lines / (c_lines + n_lines)}


def _tree_pss_kb(root: int) -> int:
    """Proportional set size of a process and its descendants (shared pages counted once overall)."""
    pids, total = [root], 0
    while pids:
        pid = pids.pop()
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
            for tid in os.listdir(f"/proc/{pid}/task"):
                kids = Path(f"/proc/{pid}/task/{tid}/children").read_text().split()
                pids.extend(int(k) for k in kids)
        except (OSError, ValueError):
            continue
    return total


def _hostile_templates(seed_lines: list[bytes]) -> list[str]:
    """Format strings for one hostile attempt (request and response entries), from the recorded refusals."""
    refused = [ln.decode() for ln in seed_lines if b"permission denied" in ln and b'"path":"custody-kv/' in ln]
    bogus = [ln.decode() for ln in seed_lines if b"wrapping token is not valid" in ln][:1]
    if len(refused) < 2 or not bogus:
        raise RuntimeError("the seed log holds no refused read of the custody mount or no failed unwrap")
    out = []
    for line in [*refused, *bogus]:
        e = orjson.loads(line)
        auth, req = e.get("auth") or {}, e["request"]
        text = line.replace("{", "{{").replace("}", "}}")
        swaps = {e["time"]: "{time}", req["id"]: "{rid}"}
        for key in ("client_token", "accessor"):
            if auth.get(key):
                swaps[auth[key]] = "hmac-sha256:{tok}"
        if auth.get("entity_id"):
            swaps[auth["entity_id"]] = "{ent}"
        if auth.get("display_name", "").startswith("userpass-"):
            swaps['"' + auth["display_name"] + '"'] = '"userpass-u{n}"'
            swaps['"username":"' + auth["display_name"][9:] + '"'] = '"username":"u{n}"'
        if "/pypi/" in req["path"]:
            swaps[req["path"]] = req["path"].split("/pypi/")[0] + "/pypi/p{n}"
        token = (req.get("data") or {}).get("token")
        if token:
            swaps[token] = "hmac-sha256:{wrap}"
        for old, new in sorted(swaps.items(), key=lambda kv: -len(kv[0])):
            text = text.replace(old, new)
        out.append(text)
    return out


def generate_hostile(seed: Path, out: Path, size_mb: int) -> dict[str, float]:
    """Write ``out`` of about ``size_mb`` MB of refused reads and lists of the custody mount by distinct principals
    on distinct account paths, and failed unwraps of made-up tokens, between two copies of the seed."""
    seed_lines = seed.read_bytes().splitlines(keepends=True)
    templates = _hostile_templates(seed_lines)
    target = size_mb * 1024 * 1024
    # one call per group of lines (its request and response entries), each by a principal of its own
    groups = [templates[i : i + 2] for i in range(0, len(templates) - 1, 2)] + [templates[-1:]]
    written = attempts = 0
    with out.open("wb") as f:
        f.write(b"".join(seed_lines))
        while written < target:
            block: list[str] = []
            for _ in range(1000):
                for group in groups:
                    n = f"{attempts:010x}"
                    sec, ns = divmod(attempts, 1000)
                    stamp = f"2026-11-26T{sec // 3600 % 24:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}.{ns:06d}000Z"
                    values = {"time": stamp, "rid": f"{n[:8]}-{n[8:]}00-4000-8000-{attempts:012x}",
                              "tok": f"{attempts:064x}", "ent": f"{n[:8]}-0000-4000-8000-{attempts:012x}", "n": n,
                              "wrap": f"{attempts + 1 << 40:064x}"}
                    block.extend(t.format(**values) for t in group)
                    attempts += 1
            data = "".join(block).encode()
            f.write(data)
            written += len(data)
        f.write(b"".join(seed_lines))
    return {"bytes": written, "attempts": attempts}


def _custody_command() -> list[str]:
    exe = Path(sys.executable).parent / "custody"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "custody"]


def warm_up(seed: Path, work: Path) -> None:
    """Run the command once on a small log with Python's bytecode cache written, as an installed custody has it
    (an environment with PYTHONDONTWRITEBYTECODE would otherwise compile every module on every run)."""
    small = work / "warm-up.log"
    small.write_bytes(b"".join(seed.read_bytes().splitlines(keepends=True)[:200]))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cmd = [*_custody_command(), "audit", "summary", "--log", str(small), "--format", "json"]
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
    small.unlink()


def run_summary(log: Path, out: Path) -> tuple[dict[str, float], dict[str, Any]]:
    """Run the whole ``custody audit summary`` command; sample the PSS of it and its workers every 20 ms.

    Returns the figures and the summary it wrote."""
    cmd = [*_custody_command(), "audit", "summary", "--log", str(log), "--format", "json", "--output", str(out)]
    cpu0, t0 = _children_cpu(), time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_pss_kb(proc.pid))
        time.sleep(0.02)
    wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
    err = proc.stderr.read() if proc.stderr else ""
    if proc.returncode != 0:
        raise RuntimeError(f"summary failed with exit code {proc.returncode}: {err.strip()[-400:]}")
    data = json.loads(out.read_text())
    out.unlink()
    figures = {"wall": wall, "cpu": cpu, "pss_kb": peak, "reveals": data["totals"]["reveals"],
               "anomalies": data["totals"]["anomalies"], "listed": len(data["anomalies"]),
               "lines": data["input"]["lines_total"], "custody_lines": data["input"]["lines_custody"]}
    return figures, data


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_jq(log: Path) -> tuple[float, float]:
    """Seconds for jq (output discarded) and its CPU seconds."""
    cpu0, t0 = _children_cpu(), time.perf_counter()
    subprocess.run(["jq", "-c", JQ_FILTER, str(log)], stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0, _children_cpu() - cpu0


def _verdict(ok: bool) -> str:
    return "holds" if ok else "MISSED"


def _load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def _same_as_saved(name: str, data: dict[str, Any], compare: Path) -> bool:
    """Whether ``data`` is the summary saved as ``compare/<name>.json`` (the files read aside); prints the result."""
    ref = compare / f"{name}.json"
    if not ref.exists():
        print(f"  compare      no {ref} to compare with: MISSED")
        return False
    want = json.loads(ref.read_text())
    for d in (want, data):
        d["input"].pop("files", None)
    if want == data:
        print(f"  compare      the summary is the same as {ref}")
        return True
    keys = sorted(k for k in want.keys() | data.keys() if want.get(k) != data.get(k))
    print(f"  compare      the summary DIFFERS from {ref} in {', '.join(keys)}")
    return False


def report(name: str, log: Path, target_ratio: float | None, work: Path, opts: argparse.Namespace) -> bool:
    """Measure one log ``opts.runs`` times (with jq in turn when there is a ratio target) and print its figures
    against the targets; whether they hold."""
    size_mb = log.stat().st_size / 1e6
    runs, jqs = [], []
    data: dict[str, Any] = {}
    for i in range(opts.runs if target_ratio is not None else 1):
        s, data = run_summary(log, work / "summary.json")
        runs.append(s)
        if i == 0:
            print(f"\n== {name}: {log} ({size_mb:.0f} MB, {s['lines']:.0f} lines, {s['custody_lines']:.0f} custody; "
                  f"{s['reveals']:.0f} reveals, {s['anomalies']:.0f} anomalies, {s['listed']:.0f} listed one by one)")
        line = f"  run {i + 1}        summary {s['wall']:6.2f} s (CPU {s['cpu']:5.2f} s)"
        if target_ratio is not None:
            jq_s, jq_cpu = run_jq(log)
            jqs.append((jq_s, jq_cpu))
            line += (f"   jq {jq_s:6.2f} s (CPU {jq_cpu:5.2f} s)   {jq_s / s['wall']:5.1f}x "
                     f"({jq_cpu / s['cpu']:4.1f}x CPU)")
        print(f"{line}   {_load()}")
    wall = statistics.median(r["wall"] for r in runs)
    cpu = statistics.median(r["cpu"] for r in runs)
    peak_mb = max(r["pss_kb"] for r in runs) / 1024
    mem_ok = peak_mb <= MEMORY_MB
    print(f"  summary      {wall:7.2f} s  {size_mb / wall:8.1f} MB/s  whole command, CPU {cpu:.2f} s (medians)")
    ok = mem_ok
    if target_ratio is not None:
        ratio = statistics.median(j / r["wall"] for (j, _), r in zip(jqs, runs, strict=True))
        cpu_ratio = statistics.median(c / r["cpu"] for (_, c), r in zip(jqs, runs, strict=True))
        jq_s = statistics.median(j for j, _ in jqs)
        print(f"  jq           {jq_s:7.2f} s  {size_mb / jq_s:8.1f} MB/s  (median)")
        print(f"  ratio to jq  {ratio:7.1f}x   target >= {target_ratio:.0f}x: {_verdict(ratio >= target_ratio)}  "
              f"(median of {len(runs)}; CPU time ratio {cpu_ratio:.1f}x: the one to read when other work shares the "
              "machine)")
        ok = ok and ratio >= target_ratio
    print(f"  peak memory  {peak_mb:7.1f} MB  target <= {MEMORY_MB} MB: {_verdict(mem_ok)}  (PSS of the command and "
          "its worker, sampled every 20 ms)")
    if opts.save_json is not None:
        opts.save_json.mkdir(parents=True, exist_ok=True)
        (opts.save_json / f"{name}.json").write_text(json.dumps(data, sort_keys=True))
    if opts.compare is not None:
        ok = _same_as_saved(name, data, opts.compare) and ok
    return ok


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="custody audit summary vs jq, and its memory on a hostile log")
    p.add_argument("--size-mb", type=int, default=400, help="size of the mixed and custody logs (default 400)")
    p.add_argument("--hostile-mb", type=int, default=4096, help="size of the hostile log (default 4096)")
    p.add_argument("--dir", type=Path, default=None, help="where to write the logs (default: a /tmp dir)")
    p.add_argument("--seed", type=Path, default=None, help="a real audit log to replicate instead of recording")
    p.add_argument("--port", type=int, default=18313, help="port of the throw-away OpenBao for the seed")
    p.add_argument("--keep", action="store_true", help="keep the generated logs")
    p.add_argument("--only", choices=("mixed", "custody", "hostile"), default=None, help="measure one log only")
    p.add_argument("--runs", type=int, default=3, help="runs of the summary and jq, in turn, per log (default 3)")
    p.add_argument("--save-json", type=Path, default=None, help="keep each summary as DIR/<log>.json")
    p.add_argument("--compare", type=Path, default=None, help="check each summary is the one saved in DIR")
    a = p.parse_args(argv)
    if shutil.which("jq") is None:
        print("jq is not installed: apt-get install jq", file=sys.stderr)
        return 2
    work = a.dir or Path(tempfile.mkdtemp(prefix="custody-bench-", dir="/tmp"))
    work.mkdir(parents=True, exist_ok=True)
    recorded = False
    try:
        seed = a.seed
        if seed is None and a.keep and (work / "seed.log").exists():
            seed = work / "seed.log"  # recorded by an earlier run kept in this directory
        if seed is None:
            try:
                seed = record_seed(work / "seed.log", a.port)
                recorded = True
            except (OSError, RuntimeError) as e:
                print(f"cannot record a seed log ({e}); using {FIXTURE}", file=sys.stderr)
                seed = FIXTURE
        print(f"seed: {seed} ({seed.stat().st_size / 1e6:.1f} MB)")
        print(f"reader: {_reader_kind()}")
        warm_up(seed, work)
        ok = True
        for name, share in (("mixed", 0.02), ("custody", None), ("hostile", None)):
            if a.only not in (None, name):
                continue
            log = work / f"{name}.log"  # one log at a time, so that /tmp holds a single generated file
            size = a.hostile_mb if name == "hostile" else a.size_mb
            stamp = work / f"{name}.log.made-of"  # what a kept log was made of: the same seed makes the same log
            made_of = f"{hashlib.sha256(seed.read_bytes()).hexdigest()} {size}"
            t0 = time.perf_counter()
            if a.keep and log.exists() and stamp.exists() and stamp.read_text() == made_of:
                print(f"\nreusing {log} ({log.stat().st_size / 1e6:.0f} MB, kept by an earlier run from this seed)")
            elif name == "hostile":
                g = generate_hostile(seed, log, a.hostile_mb)
                print(f"\ngenerated {g['bytes'] / 1e6:.0f} MB ({g['attempts']:.0f} hostile calls, each by a "
                      f"principal of its own) in {time.perf_counter() - t0:.1f} s")
            else:
                g = generate(seed, log, a.size_mb, share)
                print(f"\ngenerated {g['bytes'] / 1e6:.0f} MB ({g['custody_share']:.1%} custody lines) in "
                      f"{time.perf_counter() - t0:.1f} s")
            stamp.write_text(made_of)
            if name == "hostile":
                ok = report(name, log, None, work, a) and ok
            else:
                ok = report(name, log, RATIO[name], work, a) and ok
            if not a.keep:
                log.unlink()
                stamp.unlink()
        return 0 if ok else 1
    finally:
        if not a.keep:
            if a.dir is None:
                shutil.rmtree(work, ignore_errors=True)
            elif recorded:  # a directory given: only what this run wrote there (the logs are gone already)
                (work / "seed.log").unlink(missing_ok=True)
                (work / "seed.meta.json").unlink(missing_ok=True)


if __name__ == "__main__":
    raise SystemExit(main())
