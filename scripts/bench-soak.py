#!/usr/bin/env python3
"""Weeks of uptime, compressed: `vigil watch --no-tui --format json` with its
defaults (coverage on when the LLVM tools are there, test-level selection,
the doc lane, the idle sweep after 60 s) on a generated crate (functions
`a` and `b`, ten tests each), through N scripted edits (500 unless given),
each a change inside `a`'s body, each waited for until its run has
finished: test-level selection runs `a`'s tests and leaves `b`'s to the
sweep. vigil's resident memory (VmRSS) is sampled at
every run's end: the median of the last 100 runs must be within 10 % of the
first 100's. Then, once the idle sweep has run and ended, vigil's own CPU
time over 60 s on an unchanged tree: under 0.5 %.

Usage: scripts/bench-soak.py [EDITS]"""
import json, os, pathlib, queue, shutil, statistics, subprocess, sys, threading, time

sys.path.insert(0, os.path.dirname(__file__))
import benchlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
WS = ROOT / "target/bench-soak/soak"
EDITS = int(sys.argv[1]) if len(sys.argv) > 1 else 500
BODY = "    x + 1\n"
LIB = ("pub fn a(x: u64) -> u64 {\n" + BODY + "}\n\npub fn b(x: u64) -> u64 {\n    x * 2\n}\n\n"
       "#[cfg(test)]\nmod tests {\n"
       + "".join(f"    #[test] fn a_{i}() {{ assert_eq!(super::a({i}), {i} + 1); }}\n" for i in range(10))
       + "".join(f"    #[test] fn b_{i}() {{ assert_eq!(super::b({i}), {i} * 2); }}\n" for i in range(10))
       + "}\n")


def rss(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    (WS / "src").mkdir(parents=True, exist_ok=True)
    (WS / "Cargo.toml").write_text('[package]\nname = "soak"\nversion = "0.1.0"\nedition = "2021"\n\n[workspace]\n')
    lib = WS / "src/lib.rs"
    lib.write_text(LIB)
    shutil.rmtree(WS / "target/vigil", ignore_errors=True)
    original = lib.read_text()
    assert BODY in original
    state = WS / "target/vigil"
    env = benchlib.env() | {"VIGIL_STATE_DIR": str(state)}
    proc = subprocess.Popen([str(ROOT / "target/release/vigil"), "watch", "--no-tui", "--format", "json", str(WS)],
                            stdout=subprocess.PIPE, text=True, env=env)
    q = queue.Queue()
    threading.Thread(target=lambda: [q.put(json.loads(l)) for l in proc.stdout], daemon=True).start()
    triggers = {}

    def finished(timeout=600):
        while True:
            v = q.get(timeout=timeout)
            if v["event"] == "run_started":
                triggers[v["run"]] = v["trigger"]
            if v["event"] == "run_finished":
                return v

    first = finished()
    samples, ran = [], []
    t0 = time.monotonic()
    for i in range(EDITS):
        lib.write_text(original.replace(BODY, f"    x + 1 + 0 * {i}\n"))
        v = finished()
        assert v["outcome"] == "passed", v
        samples.append(rss(proc.pid))
        ran.append(v["tests"]["total"])
        if (i + 1) % 50 == 0:
            print(f"{i + 1} edits, {time.monotonic() - t0:.0f} s, RSS {samples[-1]:.1f} MB", flush=True)
    # The idle sweep: it starts after the quiet time, and ends.
    sweep = None
    while sweep is None:
        v = finished(timeout=900)
        if triggers.get(v["run"]) == "sweep":
            sweep = v
    time.sleep(2)
    c0, w0 = cpu(proc.pid), time.monotonic()
    time.sleep(60)
    idle = (cpu(proc.pid) - c0) / (time.monotonic() - w0) * 100
    idle_rss = rss(proc.pid)
    proc.send_signal(2)
    proc.wait(timeout=60)
    lib.write_text(original)
    head, tail = statistics.median(samples[:100]), statistics.median(samples[-100:])
    print(f"edits: {EDITS}, each ran {statistics.median(ran):.0f} test(s) (median); first run: {first['tests']['total']}")
    print(f"RSS at run end: first 100 median {head:.1f} MB, last 100 median {tail:.1f} MB, "
          f"ratio {tail / head:.3f} (target within 10 %), max {max(samples):.1f} MB")
    print(f"after the sweep (run {sweep['run']}): idle CPU over 60 s {idle:.2f} % (target < 0.5 %), RSS {idle_rss:.1f} MB")
    print(json.dumps({"edits": EDITS, "rss_first100_mb": head, "rss_last100_mb": tail, "ratio": tail / head,
                      "rss_max_mb": max(samples), "idle_cpu_percent": idle}))


if __name__ == "__main__":
    main()
