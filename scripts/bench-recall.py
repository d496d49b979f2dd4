#!/usr/bin/env python3
"""Selection recall, measured with the field's mutation tool (the edit-loop
issue). For each published crate below (fetched through cargo):

- mutants from `cargo mutants --list --json`, sampled evenly (MUTANTS per
  crate), plus hand-made compile-time mutations (table entries, consts,
  `const fn` bodies, macro arms and calls, attributes);
- each applied alone while `vigil watch --no-tui --format json` runs on the
  crate with its defaults (coverage on, test-level selection, the doc
  lane; only the idle sweep is off, so that it cannot hide a miss);
- the truth: a full `cargo nextest run --no-fail-fast` plus `cargo test
  --doc --no-fail-fast` with the mutant in place, in a plain target dir;
- a miss is a test that fails in the truth and that vigil did not run;
- beside it, the peer: `cargo nextest run -E 'rdeps(pkg)'` typed after the
  same edit (its own incremental build included), save → end of run.

Prints, per crate and overall: mutants applied, viable, that broke a test,
misses (target 0), tests run as a fraction of the static tier (median, p90;
doctests included), save → run end against the peer (medians, ratio).

Usage: [VIGIL=path] scripts/bench-recall.py [MUTANTS] [crate …]
"""
import json, os, pathlib, queue, re, statistics, subprocess, sys, threading, time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from benchlib import env, published  # noqa: E402

WORK = ROOT / "target" / "bench-recall"
# VIGIL=path runs another build (a copy, so that a rebuild cannot change
# the binary under a long run).
VIGIL = pathlib.Path(os.environ.get("VIGIL", ROOT / "target" / "release" / "vigil"))
MUTANTS = int(sys.argv[1]) if len(sys.argv) > 1 else 20
ONLY = set(sys.argv[2:])

# (crate, version): one with a multi-line lookup table, one with 100+
# doctests, one tested through its own binary.
CRATES = [("itoa", "1.0.11"), ("bytes", "1.12.2"), ("hexyl", "0.17.0")]

# Hand-made compile-time mutations: (crate, file, old, new, what).
HAND = [
    ("itoa", "src/lib.rs", "      2021222324", "      2021222325", "digit table entry (multi-line const)"),
    ("itoa", "src/lib.rs", "      8081828384", "      8081828385", "digit table entry, last line"),
    ("itoa", "src/lib.rs", "const I64_MAX_LEN: usize = 20;", "const I64_MAX_LEN: usize = 21;", "const"),
    ("itoa", "src/lib.rs", "let d2 = (rem % 100) << 1;", "let d2 = (rem % 100) << 2;", "macro_rules! arm"),
    ("itoa", "src/lib.rs", "U64_MAX_LEN => u64 as u64);", "U64_MAX_LEN => u64 as u32);", "item-level macro call"),
    ("itoa", "src/lib.rs", "const U8_MAX_LEN: usize = 3;", "const U8_MAX_LEN: usize = 4;", "const"),
    ("bytes", "src/bytes_mut.rs", "const MIN_ORIGINAL_CAPACITY_WIDTH: usize = 10;",
     "const MIN_ORIGINAL_CAPACITY_WIDTH: usize = 9;", "const"),
    ("bytes", "src/bytes_mut.rs", "const MAX_ORIGINAL_CAPACITY_WIDTH: usize = 17;",
     "const MAX_ORIGINAL_CAPACITY_WIDTH: usize = 12;", "const"),
    ("bytes", "src/bytes.rs", "        self.len == 0\n", "        self.len == 1\n", "const fn body"),
    ("bytes", "src/bytes.rs", "const KIND_MASK: usize = 0b1;", "const KIND_MASK: usize = 0b0;", "const"),
    ("hexyl", "src/colors.rs", "'Ç','ü'", "'C','ü'", "code page table entry (multi-line const)"),
    ("hexyl", "src/colors.rs", "        b'0' + (byte % 10),", "        b'1' + (byte % 10),", "const fn body"),
    ("hexyl", "src/colors.rs", "    buf[7] = as_dec(r)[0];", "    buf[7] = as_dec(r)[1];", "const fn body"),
    ("hexyl", "src/colors.rs", "&rgb_bytes(100, 100, 100);", "&rgb_bytes(101, 100, 100);", "const initializer"),
    ("hexyl", "src/main.rs", "const DEFAULT_BLOCK_SIZE: i64 = 512;", "const DEFAULT_BLOCK_SIZE: i64 = 256;", "const"),
    ("hexyl", "src/main.rs", '    #[value(name = "2")]\n    Two,', '    #[value(name = "3")]\n    Two,', "attribute"),
    ("hexyl", "src/main.rs", "    /// Grouped together every 2 bytes/octets.",
     "    /// Grouped together every two bytes/octets.", "doc comment read by clap's derive"),
    ("hexyl", "src/lib.rs", "    #[default]\n    Unicode,\n\n    /// Draw a border with ASCII characters.\n    Ascii,",
     "    Unicode,\n\n    /// Draw a border with ASCII characters.\n    #[default]\n    Ascii,", "enum default variant"),
    ("hexyl", "src/lib.rs", "pub enum Base {\n    Binary,\n    Octal,", "pub enum Base {\n    Octal,\n    Binary,",
     "enum variants reordered"),
    ("hexyl", "src/main.rs", '    #[value(name = "4")]', '    #[value(name = "8")]', "attribute"),
]


def setup(name, version):
    ws = published(name, version, WORK / name)
    # A mutant that loops forever ends as a failure, as cargo-mutants'
    # own timeout would make it.
    (ws / ".config").mkdir(exist_ok=True)
    (ws / ".config" / "nextest.toml").write_text(
        '[profile.default]\nslow-timeout = { period = "15s", terminate-after = 2 }\n'
        # What timed out in the truth, run again alone with more time.
        '[profile.alone]\nslow-timeout = { period = "60s", terminate-after = 3 }\n')
    (ws / "vigil.toml").write_text('[watch]\nsweep_after = "off"\n')
    return ws


def mutants(ws):
    out = subprocess.run(["cargo", "mutants", "--list", "--json"], cwd=ws, env=env(),
                         capture_output=True, text=True, check=True)
    listed = json.loads(out.stdout)
    if len(listed) <= MUTANTS:
        return listed
    step = len(listed) / MUTANTS
    return [listed[int(i * step)] for i in range(MUTANTS)]


def apply_mutant(ws, m):
    """The mutant's replacement written over its span (1-based lines and
    columns, the end exclusive); returns the original text."""
    path = ws / m["file"]
    text = path.read_text()
    lines = text.split("\n")
    def offset(pos):
        return sum(len(l) + 1 for l in lines[:pos["line"] - 1]) + pos["column"] - 1
    a, b = offset(m["span"]["start"]), offset(m["span"]["end"])
    path.write_text(text[:a] + m["replacement"] + text[b:])
    return text


class Watch:
    def __init__(self, ws):
        self.proc = subprocess.Popen([str(VIGIL), "watch", "--no-tui", "--format", "json", str(ws)], env=env(),
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.q = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                self.q.put((time.time(), json.loads(line)))
            except ValueError:
                pass

    def wait(self, pred, timeout=900):
        seen = []
        end = time.time() + timeout
        while time.time() < end:
            try:
                at, v = self.q.get(timeout=max(0.1, end - time.time()))
            except queue.Empty:
                break
            seen.append(v)
            if pred(v):
                return at, v, seen
        raise SystemExit("timed out waiting in watch mode")

    def run_after(self, after):
        """The next watch run started after run `after`: (end time, its
        run_started, its run_finished, the tests it ran)."""
        _, started, _ = self.wait(lambda v: v.get("event") == "run_started" and v.get("run", 0) > after)
        at, finished, seen = self.wait(lambda v: v.get("event") == "run_finished" and v["run"] == started["run"])
        ran = {(v["binary_id"], v["name"]) for v in seen
               if v.get("event") == "test" and v.get("run") == started["run"] and v.get("to") in ("passed", "failed")}
        failed = {(f["binary_id"], f["name"]) for f in finished.get("failures", [])}
        return at, started, finished, ran, failed

    def stop(self):
        self.proc.send_signal(2)
        self.proc.wait(timeout=120)


def truth(ws, pkg):
    """The tests that fail with the mutant in place; None: it does not build."""
    e = env() | {"CARGO_TARGET_DIR": str(ws / "target" / "truth")}
    run = subprocess.run(["cargo", "nextest", "run", "--no-fail-fast", "--workspace"], cwd=ws, env=e,
                         capture_output=True, text=True, timeout=1800)
    if run.returncode == 101:
        return None
    failed = set()
    timed_out = set()
    for line in run.stderr.splitlines():
        m = re.match(r"\s*(FAIL|TIMEOUT|SIGSEGV|SIGABRT|SIGKILL|ABORT)\s+\[[^\]]*\]\s+(?:\(\s*\d+/\d+\)\s+)?(\S+)\s+(.+)$", line)
        if m:
            (timed_out if m.group(1) == "TIMEOUT" else failed).add((m.group(2), m.group(3).strip()))
    # A slow test can pass its time limit on a loaded machine (bytes'
    # `advance_bytes_mut_remaining_capacity` takes 25 s of the 30): what
    # timed out is run again alone, with three minutes, and counts only if
    # it fails or times out again (a mutant that loops forever does).
    for binary, name in sorted(timed_out):
        alone = subprocess.run(["cargo", "nextest", "run", "--profile", "alone", "--no-fail-fast", "-E",
                                f"binary_id({binary}) & test(={name})"], cwd=ws, env=e,
                               capture_output=True, text=True, timeout=1800)
        if alone.returncode != 0:
            failed.add((binary, name))
    doc = subprocess.run(["timeout", "900", "cargo", "test", "--doc", "--no-fail-fast"], cwd=ws, env=e,
                         capture_output=True, text=True)
    for line in doc.stdout.splitlines():
        m = re.match(r"test (.+) \.\.\. FAILED$", line)
        if m:
            failed.add((f"{pkg}::doc", m.group(1)))
    return failed


def peer(ws, pkg):
    """`cargo nextest run -E 'rdeps(pkg)'` after the edit: seconds."""
    e = env() | {"CARGO_TARGET_DIR": str(ws / "target" / "peer")}
    t0 = time.time()
    subprocess.run(["cargo", "nextest", "run", "--no-fail-fast", "-E", f"rdeps({pkg})"], cwd=ws, env=e,
                   capture_output=True, text=True, timeout=1800)
    return time.time() - t0


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def bench(name, version):
    ws = setup(name, version)
    listed = mutants(ws)
    # Warm both plain builds, so that each measures the mutant's increment.
    peer(ws, name)
    truth(ws, name)
    w = Watch(ws)
    _, first, _, _, _ = w.run_after(0)
    last = first["run"]
    rows = []
    cases = [(m["name"], lambda m=m: apply_mutant(ws, m), ws / m["file"]) for m in listed]
    for crate, file, old, new, what in HAND:
        if crate != name:
            continue
        path = ws / file

        def hand(path=path, old=old, new=new):
            text = path.read_text()
            assert old in text, f"{name}: {old!r} not in {path}"
            path.write_text(text.replace(old, new, 1))
            return text
        cases.append((f"{file}: {what}", hand, path))
    for label, do, path in cases:
        saved_at = time.time()
        original = do()
        at, started, finished, ran, failed = w.run_after(last)
        last = started["run"]
        save_to_end = at - saved_at
        peer_s = peer(ws, name)
        broke = truth(ws, name)
        path.write_text(original)
        _, started2, _, _, _ = w.run_after(last)
        last = started2["run"]
        if broke is None:
            print(f"  {label}: does not build")
            rows.append({"label": label, "viable": False})
            continue
        runs = len(ran)
        # A run on the static tier names no `static_tests`: all it selected
        # ran, nextest's tests and the doc lane's doctests.
        static = started.get("static_tests") or max(1, runs, started["selected"]["tests"])
        miss = sorted(broke - ran)
        rows.append({"label": label, "viable": True, "broke": bool(broke), "miss": miss,
                     "fraction": min(1.0, runs / static) if static else 1.0, "vigil_s": save_to_end, "peer_s": peer_s})
        print(f"  {label}: ran {runs} of {static}, truth fails {len(broke)}, vigil saw {len(failed)} fail, "
              f"misses {len(miss)}{' ' + str(miss) if miss else ''}; {save_to_end:.1f} s vs rdeps {peer_s:.1f} s")
    w.stop()
    return rows


def summary(label, rows):
    viable = [r for r in rows if r["viable"]]
    broke = [r for r in viable if r["broke"]]
    misses = sum(len(r["miss"]) for r in viable)
    fr = [r["fraction"] for r in viable]
    v = [r["vigil_s"] for r in viable]
    p = [r["peer_s"] for r in viable]
    ratio = statistics.median(v) / statistics.median(p) if v and p else float("nan")
    print(f"{label}: {len(rows)} mutants, {len(viable)} viable, {len(broke)} broke a test, misses {misses} (target 0); "
          f"tests run / static tier median {statistics.median(fr) * 100 if fr else float('nan'):.1f} % "
          f"p90 {pct(fr, 0.9) * 100:.1f} % (target median < 10 %); save -> run end median "
          f"{statistics.median(v) if v else float('nan'):.1f} s vs rdeps {statistics.median(p) if p else float('nan'):.1f} s "
          f"({ratio:.2f} x)")


def main():
    if not VIGIL.exists():
        raise SystemExit("build vigil first: cargo build --release")
    every = []
    for name, version in CRATES:
        if ONLY and name not in ONLY:
            continue
        print(f"{name} {version}")
        rows = bench(name, version)
        summary(f"{name}", rows)
        every += rows
    summary("all", every)


if __name__ == "__main__":
    main()
