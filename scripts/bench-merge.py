#!/usr/bin/env python3
"""`vigil merge` at CI scale: 8 shards of 10,000 tests each, with coverage.

The shards' coverage is real: the generated 1,100-test workspace of
bench-testmap.py (10 crates) run as 8 real shards (`vigil run --partition
slice:M/8 --out DIR`, coverage on), each keeping its own profile and the
10 instrumented binaries. Each shard's events are then scaled up to 10,000
tests (2 % failing with their output, 3 % ignored) — the merge reads,
dedups and counts them all, merges the 8 profiles with llvm-profdata, and
reports over the binaries with llvm-cov, then writes JUnit.

Measured: wall time (hyperfine, RUNS runs, median) and peak memory (max
RSS, /usr/bin/time). Targets: under 5 s, under 200 MB.

Usage: scripts/bench-merge.py [RUNS]
"""
import json, pathlib, random, shutil, subprocess, sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from benchlib import env  # noqa: E402
import importlib.util  # noqa: E402

spec = importlib.util.spec_from_file_location("bench_testmap", ROOT / "scripts" / "bench-testmap.py")
WORK = ROOT / "target" / "bench-merge"
VIGIL = ROOT / "target" / "release" / "vigil"
RUNS = sys.argv[1] if len(sys.argv) > 1 else "5"
SHARDS, TESTS = 8, 10_000


def generate_workspace():
    """The 1,100-test workspace of bench-testmap.py (without running it)."""
    sys.argv = [sys.argv[0], "1", "0", "none"]
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.generate()


def real_shards(ws):
    dirs = []
    for m in range(1, SHARDS + 1):
        d = WORK / f"real-{m}"
        if not (d / "coverage.profdata").exists():
            shutil.rmtree(d, ignore_errors=True)
            e = env()
            e["VIGIL_STATE_DIR"] = str(WORK / f"state-{m}")
            subprocess.run([str(VIGIL), "run", str(ws), "--partition", f"slice:{m}/{SHARDS}", "--out", str(d)],
                           env=e, stdout=subprocess.DEVNULL, check=False)
            assert (d / "coverage.profdata").exists(), f"shard {m} kept no coverage"
        dirs.append(d)
    return dirs


def scaled(real, m):
    """A shard dir: the real shard's coverage, 10,000 tests of events."""
    d = WORK / f"shard-{m}"
    if (d / "events.jsonl").exists():
        return d
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    shutil.copy(real / "coverage.profdata", d)
    shutil.copy(real / "coverage.json", d)
    shutil.copytree(real / "objects", d / "objects", copy_function=lambda a, b: shutil.copy(a, b))
    rng = random.Random(m)
    lines = [json.dumps({"event": "run_started", "run": 1, "trigger": "manual"})]
    counts = dict(total=0, passed=0, failed=0, skipped=0, xfail=0, xpass=0, cancelled=0, blocked=0)
    failures = []
    for i in range(TESTS):
        b, name = f"bench::b{m}_{i // 500}", f"mod_{i % 50}::test_{i}"
        r = rng.random()
        at = i * 0.001
        if r < 0.03:
            lines.append(json.dumps({"event": "test", "run": 1, "binary_id": b, "name": name,
                                     "from": "pending", "to": "skipped", "at_s": at, "duration_s": 0.0}))
            counts["skipped"] += 1
        else:
            lines.append(json.dumps({"event": "test", "run": 1, "binary_id": b, "name": name,
                                     "from": "pending", "to": "running", "at_s": at}))
            end = {"event": "test", "run": 1, "binary_id": b, "name": name, "from": "running",
                   "at_s": at + 0.004, "duration_s": 0.004}
            if r < 0.05:
                msg = f"thread '{name}' panicked at src/lib.rs:{i % 300}:5:\nassertion `left == right` failed"
                end.update(to="failed", message=msg, output=msg + "\n" + "note: a line of output\n" * 5,
                           location={"file": "src/lib.rs", "line": i % 300, "column": 5})
                counts["failed"] += 1
                failures.append({"binary_id": b, "name": name, "message": msg})
            else:
                end["to"] = "passed"
                counts["passed"] += 1
            lines.append(json.dumps(end))
        counts["total"] += 1
    lines.append(json.dumps({"event": "run_finished", "run": 1, "outcome": "failed", "duration_s": 60.0,
                             "tests": counts, "suites": [], "failures": failures, "xpass": [], "build_errors": [],
                             "warnings": [], "budgets": {"violations": [], "warnings": []}, "flaky": [],
                             "slower": [], "hygiene": [], "coverage": None, "services": [],
                             "gate": {"passed": False, "reasons": [f"{counts['failed']} tests failed"]}}))
    (d / "events.jsonl").write_text("\n".join(lines) + "\n")
    return d


def main():
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    ws = generate_workspace()
    reals = real_shards(ws)
    dirs = [scaled(r, m) for m, r in enumerate(reals, 1)]
    out = WORK / "out"
    out.mkdir(exist_ok=True)
    cmd = [str(VIGIL), "merge", *map(str, dirs), "--format", "json",
           "--junit", str(out / "junit.xml"), "--lcov", str(out / "merged.lcov")]
    e = env()
    e["VIGIL_STATE_DIR"] = str(WORK / "state-merge")
    first = subprocess.run(cmd, env=e, capture_output=True, text=True, cwd=ws)
    summary = json.loads(first.stdout)
    print(f"merged: {summary['tests']['total']} tests, {summary['tests']['failed']} failed, "
          f"coverage lines {summary['coverage']['lines']['percent']:.2f} %, exit {first.returncode}")
    subprocess.run(["hyperfine", "--warmup", "1", "--runs", RUNS, "-N", "-i", "--export-json", str(out / "time.json"),
                    "-n", f"vigil merge ({SHARDS} x {TESTS} tests, coverage)", " ".join(cmd)], env=e, cwd=ws, check=True)
    t = json.loads((out / "time.json").read_text())["results"][0]
    rss = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], env=e, cwd=ws, capture_output=True, text=True)
    peak_kb = int(rss.stderr.strip().splitlines()[-1])
    print(f"median {t['median']:.3f} s (min {t['min']:.3f}, max {t['max']:.3f}); peak memory {peak_kb / 1024:.1f} MB")
    print(f"targets: under 5 s ({'met' if t['median'] < 5 else 'MISSED'}), "
          f"under 200 MB ({'met' if peak_kb < 200 * 1024 else 'MISSED'})")


main()
