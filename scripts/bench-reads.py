#!/usr/bin/env python3
"""The read tracer's cost: `vigil run` with its defaults (coverage on, reads
traced) against the same run with `coverage.reads = false`, alternating,
on two workspaces:

1. semver 1.0.28 from the registry (its tests read few files);
2. a generated data-driven crate: 200 tests, each opening, stat-ing and
   listing 25 case files (a snapshot or trycmd suite's shape).

Each setting runs in blocks of its own, each after a warm-up (a switch
between them costs the first run after it, whichever it is), the blocks
alternating. Prints the medians, their ratio, each pair of blocks' ratio,
and the cost per test. Target: under 3 % of the run. Run: python3 scripts/bench-reads.py [ROUNDS [BLOCKS]]"""
import pathlib, statistics, subprocess, sys, time

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from benchlib import env, semver  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
WORK = ROOT / "target" / "bench-reads"
VIGIL = ROOT / "target" / "release" / "vigil"
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
BLOCKS = int(sys.argv[2]) if len(sys.argv) > 2 else 4
TESTS = 200
CASES = 25


def data_driven():
    dest = WORK / "cases"
    if dest.exists():
        return dest
    (dest / "src").mkdir(parents=True)
    (dest / "Cargo.toml").write_text('[package]\nname = "cases"\nversion = "0.1.0"\nedition = "2021"\n\n[workspace]\n')
    for t in range(TESTS):
        d = dest / "cases" / f"t{t}"
        d.mkdir(parents=True)
        for c in range(CASES):
            (d / f"case{c}.txt").write_text(f"input {t} {c}\n")
    tests = "\n".join(
        f"    #[test]\n    fn case_{t}() {{\n        check(\"t{t}\");\n    }}\n" for t in range(TESTS))
    (dest / "src" / "lib.rs").write_text(
        "pub fn check(dir: &str) {\n"
        "    let root = std::path::Path::new(env!(\"CARGO_MANIFEST_DIR\")).join(\"cases\").join(dir);\n"
        "    for e in std::fs::read_dir(&root).unwrap() {\n"
        "        let p = e.unwrap().path();\n"
        "        assert!(p.exists());\n"
        "        assert!(std::fs::read_to_string(&p).unwrap().starts_with(\"input\"));\n"
        "    }\n"
        "}\n\n#[cfg(test)]\nmod tests {\n    use super::*;\n\n" + tests + "}\n")
    subprocess.run(["cargo", "generate-lockfile", "--quiet"], cwd=dest, check=True, env=env())
    return dest


def timed(cmd):
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - t0


def count(cmd):
    out = subprocess.run(cmd, env=env(), capture_output=True, text=True).stdout
    import json
    last = [json.loads(l) for l in out.splitlines() if l.startswith("{")][-1]
    return last["tests"]["total"]


def pair(name, ws):
    off = WORK / f"{name}-off.toml"
    off.write_text("[coverage]\nreads = false\n")
    traced = [str(VIGIL), "run", str(ws), "--format", "json"]
    untraced = traced + ["--config", str(off)]
    tests = count(traced)
    # Each setting in blocks of its own, each after a warm-up run:
    # switching `coverage.reads` between runs changes the environment vigil
    # gives cargo and nextest, so the first run after a switch pays for the
    # switch (alternating run by run put that on every traced run). The
    # blocks alternate (off, on, off, on, …), so that the machine's drift
    # over the minutes falls on both; each pair of blocks gives a ratio.
    ons, offs, ratios = [], [], []
    for _ in range(BLOCKS):
        block = {}
        for cmd, out, key in ((untraced, offs, "off"), (traced, ons, "on")):
            timed(cmd)
            block[key] = [timed(cmd) for _ in range(ROUNDS)]
            out.extend(block[key])
        ratios.append(statistics.median(block["on"]) / statistics.median(block["off"]))
    on, of = statistics.median(ons), statistics.median(offs)
    print(f"{name:8} {tests} tests | reads off: median {of:.3f} s | traced: median {on:.3f} s | "
          f"traced/off {on / of:.3f} (blocks: {' '.join(f'{r:.3f}' for r in ratios)}) | "
          f"per test {(on - of) / tests * 1000:+.2f} ms")


def main():
    WORK.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    print(f"{BLOCKS} blocks of {ROUNDS} runs of each setting, alternating (both with coverage on)")
    pair("semver", semver(WORK / "semver"))
    pair("cases", data_driven())


main()
