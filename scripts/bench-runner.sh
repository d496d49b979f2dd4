#!/usr/bin/env bash
# What the resident runner costs per test in a normal run: `vigil run` with
# its defaults (coverage, so vigil is nextest's target runner) on 1,000
# tests, with the runner resident (the default: it sees what tests leave
# running) against the runner that execs the test (`VIGIL_RUNNER_EXEC=1`,
# as before), and `cargo nextest run` without vigil, side by side in one
# hyperfine run. Uses the workspace scripts/bench-check.sh generates.
# Usage: scripts/bench-runner.sh [RUNS_OF_EACH]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
ws="target/bench-check/ws"
[ -f "$ws/src/lib.rs" ] || { echo "run scripts/bench-check.sh first (it writes $ws)"; exit 2; }
cargo build --release -q 2>/dev/null || cargo build --release
vigil="$PWD/target/release/vigil"
export VIGIL_STATE_DIR="$PWD/target/bench-check/state-runner"
# Warm both builds (plain and instrumented).
(cd "$ws" && cargo nextest run >/dev/null 2>&1 && "$vigil" run --all >/dev/null 2>&1) || true
hyperfine --runs "$runs" --warmup 1 --export-json target/bench-check/runner.json \
  -n "vigil run (resident runner)" "cd $ws && $vigil run --all > /dev/null" \
  -n "vigil run (exec runner)" "cd $ws && VIGIL_RUNNER_EXEC=1 $vigil run --all > /dev/null" \
  -n "cargo nextest run" "cd $ws && cargo nextest run > /dev/null 2>&1"
python3 - <<'PY'
import json
r = {x["command"]: x["median"] for x in json.load(open("target/bench-check/runner.json"))["results"]}
res, ex, nx = r["vigil run (resident runner)"], r["vigil run (exec runner)"], r["cargo nextest run"]
print(f"median: resident {res:.2f} s, exec {ex:.2f} s, nextest alone {nx:.2f} s; "
      f"the resident runner costs {(res - ex) / 1000 * 1e3:.2f} ms per test over exec "
      f"({res / ex:.3f}x), vigil with coverage {res / nx:.2f}x nextest without")
PY
