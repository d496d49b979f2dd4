#!/usr/bin/env python3
"""Narrowing on real history (the narrowing issue): successive published
releases of registry crates, applied one after another to one workspace
while `vigil watch --no-tui --format json` runs on it with its defaults
(coverage on, reads traced, test-level selection, the doc lane; the idle
sweep after 3 s).

For each step (release k → k+1, files replaced as `cargo publish` made
them, the workspace's lock file kept and updated by cargo):
- the tests vigil's watch runs for the change (every run it starts until
  it is quiet, the sweep not counted), as a fraction of the workspace's
  tests (nextest's and doctests);
- misses the sweep reports;
- the truth: a full `cargo nextest run --no-fail-fast` and `cargo test
  --doc --no-fail-fast` in a target dir of its own; a miss is a test that
  fails there while vigil's latest result for it is a pass.

Prints per step, per crate and overall: fraction run (mean, median, p90)
and misses (target 0).

Usage: scripts/bench-history.py [-v] [crate …]   (-v: each run's reasons)
"""
import json, os, pathlib, queue, re, shutil, statistics, subprocess, sys, threading, time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from benchlib import env, published  # noqa: E402

WORK = ROOT / "target" / "bench-history"
VIGIL = ROOT / "target" / "release" / "vigil"
VERBOSE = "-v" in sys.argv[1:]
ONLY = set(a for a in sys.argv[1:] if a != "-v")

# Eleven consecutive releases each: ten steps.
CRATES = {
    "itoa": [f"1.0.{i}" for i in range(5, 16)],
    "semver": [f"1.0.{i}" for i in range(17, 28)],
    "dtoa": [f"1.0.{i}" for i in range(0, 11)],
}


def fetch(name, versions):
    """Every release's source, fetched through cargo."""
    return [published(name, v, WORK / "releases" / f"{name}-{v}") for v in versions]


KEEP = {"target", "Cargo.lock", "vigil.toml", ".config"}


def sync(src, ws):
    """Makes `ws` hold `src`'s files (a release as published), keeping
    vigil's and cargo's own state and the workspace's lock file. Only files
    whose bytes differ are written, as a checkout does."""
    def files(root):
        out = {}
        for dirpath, dirnames, names in os.walk(root):
            rel = pathlib.Path(dirpath).relative_to(root)
            if rel.parts and rel.parts[0] in KEEP:
                dirnames[:] = []
                continue
            for n in names:
                p = rel / n
                if str(p) in KEEP or n == ".cargo_vcs_info.json" or n == ".cargo-ok":
                    continue
                out[str(p)] = pathlib.Path(dirpath) / n
        return out
    old, new = files(ws), files(src)
    changed = []
    for rel, path in new.items():
        data = path.read_bytes()
        if rel == "Cargo.toml" and b"[workspace]" not in data:
            data += b"\n[workspace]\n"
        dest = ws / rel
        if dest.exists() and dest.read_bytes() == data:
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        changed.append(rel)
    for rel in old.keys() - new.keys():
        (ws / rel).unlink()
        changed.append(rel)
    return sorted(changed)


class Watch:
    def __init__(self, ws):
        self.proc = subprocess.Popen([str(VIGIL), "watch", "--no-tui", "--format", "json", str(ws)], env=env(),
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.q = queue.Queue()
        # The latest result of each test: (binary_id, name) → state.
        self.state = {}
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                self.q.put(json.loads(line))
            except ValueError:
                pass

    def events(self, quiet, limit=1800):
        """Events until none came for `quiet` seconds while no run is in
        flight."""
        out, active, end = [], set(), time.time() + limit
        last = time.time()
        while time.time() < end:
            try:
                v = self.q.get(timeout=0.5)
            except queue.Empty:
                if not active and time.time() - last > quiet:
                    return out
                continue
            last = time.time()
            out.append(v)
            e = v.get("event")
            if e == "run_started":
                active.add(v["run"])
            elif e == "run_finished":
                active.discard(v["run"])
            elif e == "test" and v.get("to") in ("passed", "failed", "xfail", "xpass", "skipped"):
                self.state[(v["binary_id"], v["name"])] = v["to"]
        raise SystemExit("watch mode did not settle")

    def stop(self):
        self.proc.send_signal(2)
        self.proc.wait(timeout=120)


def truth(ws):
    """(failing tests, how many tests there are) with the release in place."""
    e = env() | {"CARGO_TARGET_DIR": str(ws / "target" / "truth")}
    run = subprocess.run(["cargo", "nextest", "run", "--no-fail-fast", "--workspace"], cwd=ws, env=e,
                         capture_output=True, text=True, timeout=1800)
    failed, total = set(), 0
    for line in run.stderr.splitlines():
        m = re.match(r"\s*(?:FAIL|TIMEOUT|SIGSEGV|SIGABRT|SIGKILL|ABORT)\s+\[[^\]]*\]\s+(?:\(\s*\d+/\d+\)\s+)?(\S+)\s+(.+)$",
                     line)
        if m:
            failed.add((m.group(1), m.group(2).strip()))
        m = re.search(r"Summary \[.*\]\s+(\d+) tests? run", line)
        if m:
            total += int(m.group(1))
    pkg = re.search(r'^name = "([^"]+)"', (ws / "Cargo.toml").read_text(), re.M).group(1)
    doc = subprocess.run(["timeout", "900", "cargo", "test", "--doc", "--no-fail-fast"], cwd=ws, env=e,
                         capture_output=True, text=True)
    for line in doc.stdout.splitlines():
        m = re.match(r"test (.+) \.\.\. (FAILED|ok)$", line)
        if m:
            total += 1
            if m.group(2) == "FAILED":
                failed.add((f"{pkg}::doc", m.group(1)))
    return failed, total


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def replay(name, versions):
    sources = fetch(name, versions)
    ws = WORK / name
    if ws.exists():
        shutil.rmtree(ws)
    ws.mkdir(parents=True)
    sync(sources[0], ws)
    (ws / "vigil.toml").write_text('[watch]\nsweep_after = "3s"\n')
    # A release that loops forever ends as a failure.
    (ws / ".config").mkdir(exist_ok=True)
    (ws / ".config" / "nextest.toml").write_text(
        '[profile.default]\nslow-timeout = { period = "30s", terminate-after = 2 }\n')
    subprocess.run(["cargo", "generate-lockfile", "--quiet"], cwd=ws, check=True, env=env())
    truth(ws)
    w = Watch(ws)
    w.events(quiet=10)
    rows = []
    for prev, (version, src) in zip(versions, list(zip(versions, sources))[1:]):
        changed = sync(src, ws)
        seen = w.events(quiet=10)
        runs = {v["run"]: v for v in seen if v.get("event") == "run_started"}
        watch_runs = {r for r, v in runs.items() if v.get("trigger") == "watch"}
        ran = {(v["binary_id"], v["name"]) for v in seen
               if v.get("event") == "test" and v.get("run") in watch_runs
               and v.get("to") in ("passed", "failed", "xfail", "xpass")}
        sweep = [v for v in seen if v.get("event") == "sweep_finished"]
        sweep_misses = sum(len(v.get("misses", [])) for v in sweep)
        failed, total = truth(ws)
        misses = sorted(t for t in failed if w.state.get(t) in ("passed", None) and t not in ran)
        # A test vigil never listed (another binary's, or a doctest it did
        # not reach) counts only if vigil shows it green.
        misses = [t for t in misses if w.state.get(t) == "passed"]
        fraction = len(ran) / total if total else 0.0
        rows.append({"fraction": fraction, "misses": len(misses) + sweep_misses})
        print(f"  {prev} -> {version}: {len(changed)} files changed, {len(watch_runs)} runs, ran {len(ran)} of "
              f"{total} ({fraction * 100:.1f} %), truth fails {len(failed)}, sweep misses {sweep_misses}, "
              f"misses after a full run {len(misses)}{' ' + str(misses) if misses else ''}", flush=True)
        if VERBOSE:
            for r in sorted(watch_runs):
                print(f"      run {r}: {'; '.join(runs[r].get('reasons', []))[:600]}")
            for v in seen:
                if v.get("event") == "change_ignored":
                    print(f"      ignored: {v['changed']} ({v.get('why')})")
    w.stop()
    return rows


def summary(label, rows):
    fr = [r["fraction"] * 100 for r in rows]
    misses = sum(r["misses"] for r in rows)
    print(f"{label}: {len(rows)} steps, tests run per step: mean {statistics.mean(fr):.1f} %, median "
          f"{statistics.median(fr):.1f} %, p90 {pct(fr, 0.9):.1f} %; misses {misses} (target 0)", flush=True)


def main():
    if not VIGIL.exists():
        raise SystemExit("build vigil first: cargo build --release")
    WORK.mkdir(parents=True, exist_ok=True)
    every = []
    for name, versions in CRATES.items():
        if ONLY and name not in ONLY:
            continue
        print(f"{name} {versions[0]} .. {versions[-1]}", flush=True)
        rows = replay(name, versions)
        summary(name, rows)
        every += rows
    summary("all", every)


if __name__ == "__main__":
    main()
