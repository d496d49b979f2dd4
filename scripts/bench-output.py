#!/usr/bin/env python3
"""Peak resident memory of vigil itself (VmHWM of the vigil process, not of
nextest or the tests) for a test that prints 50 MB and fails, and for a
10,000-test catalog beside it, with vigil's defaults (coverage on when the
LLVM tools are there, the doc lane on) and `output.max` at its default
(1 MB) against a bound so large it never cuts (what vigil did before the
bound). Targets: under 150 MB for the 50 MB test; the 10,000-test run
costs no more with the bound than without.

Usage: scripts/bench-output.py [--runs N]   (default 3 runs of each)"""
import json, os, pathlib, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(__file__))
import benchlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
VIGIL = ROOT / "target/release/vigil"
RUNS = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 3


def tenk(dest):
    """A crate with 10,000 passing tests (as scripts/bench-tui-memory.sh)."""
    if (dest / "Cargo.toml").exists():
        return dest
    (dest / "src").mkdir(parents=True, exist_ok=True)
    (dest / "Cargo.toml").write_text('[package]\nname = "tenk"\nversion = "0.1.0"\nedition = "2021"\n\n[workspace]\n')
    body = []
    for m in range(20):
        body.append(f"mod m{m} {{")
        body += [f"    #[test] fn case_{t}() {{ assert!({t} < 1000); }}" for t in range(500)]
        body.append("}")
    (dest / "src/lib.rs").write_text("\n".join(body) + "\n")
    return dest


def peak(workspace, config):
    """vigil run once; (peak RSS in MB, seconds, longest JSON line)."""
    state = tempfile.mkdtemp(prefix="vigil-bench-output-")
    env = benchlib.env() | {"VIGIL_STATE_DIR": state}
    out = open(os.path.join(state, "out.jsonl"), "wb")
    start = time.monotonic()
    p = subprocess.Popen([str(VIGIL), "run", str(workspace), "--format", "json", "--config", str(config)],
                         stdout=out, stderr=subprocess.DEVNULL, env=env)
    hwm = 0
    while p.poll() is None:
        try:
            for line in open(f"/proc/{p.pid}/status"):
                if line.startswith("VmHWM:"):
                    hwm = max(hwm, int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.02)
    took = time.monotonic() - start
    out.close()
    longest = max((len(l) for l in open(os.path.join(state, "out.jsonl"), "rb")), default=0)
    subprocess.run(["rm", "-rf", state])
    return hwm / 1024, took, longest


def main():
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    work = ROOT / "target/bench-output"
    work.mkdir(parents=True, exist_ok=True)
    loud = ROOT / "tests/fixtures/loud"
    ten = tenk(work / "tenk")
    configs = {}
    for name, max_ in [("bound 1 MB (default)", None), ("no bound (1 GB)", '"1GB"')]:
        c = work / f"{name.split()[0]}-{name.split()[1]}.toml"
        c.write_text("" if max_ is None else f"[output]\nmax = {max_}\n")
        configs[name] = c
    rows = []
    for label, ws in [("a test printing 50 MB", loud), ("10,000 passing tests", ten)]:
        # One warm-up run builds the workspace (instrumented, as vigil does).
        peak(ws, configs["bound 1 MB (default)"])
        for name, c in configs.items():
            samples = [peak(ws, c) for _ in range(RUNS)]
            rss = statistics.median(s[0] for s in samples)
            took = statistics.median(s[1] for s in samples)
            longest = max(s[2] for s in samples)
            rows.append((label, name, rss, took, longest))
            print(f"{label:24} {name:22} peak RSS {rss:7.1f} MB  run {took:6.2f} s  longest JSON line {longest / 1e6:6.2f} MB",
                  flush=True)
    print(json.dumps([dict(zip(["workspace", "config", "peak_rss_mb", "run_s", "longest_line_bytes"], r)) for r in rows]))


if __name__ == "__main__":
    main()
