#!/usr/bin/env bash
# `vigil check --runs 20` (its defaults: runs alone, copies at once, the
# network namespace, the shifted clock, a temp dir of its own) against
# `cargo nextest run --stress-count 20` on the same 1,000 tests, side by
# side in one hyperfine run; and the runner's per-test cost in a normal run
# (`vigil run` with coverage off, so no runner: the floor) is left to
# benches/events. Prints hyperfine's medians and the ratio.
# Usage: scripts/bench-check.sh [RUNS_OF_EACH]   (needs hyperfine, faketime)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
ws="target/bench-check/ws"
mkdir -p "$ws/tests"
cat > "$ws/Cargo.toml" <<'TOML'
[package]
name = "thousand"
version = "0.1.0"
edition = "2021"

[workspace]
TOML
mkdir -p "$ws/src"
# 500 unit tests (the network check applies to them) and 500 in five
# integration binaries.
if [ ! -f "$ws/src/lib.rs" ]; then
  {
    echo 'pub fn id(x: u64) -> u64 { x }'
    for m in $(seq 0 4); do
      echo "#[cfg(test)] mod m$m {"
      for t in $(seq 0 99); do echo "  #[test] fn case_$t() { assert_eq!(super::id($t), $t); }"; done
      echo "}"
    done
  } > "$ws/src/lib.rs"
fi
for b in $(seq 0 4); do
  f="$ws/tests/t$b.rs"
  [ -f "$f" ] && continue
  for t in $(seq 0 99); do
    echo "#[test] fn case_$t() { assert_eq!(thousand::id($t), $t); }"
  done > "$f"
done
cargo build --release -q 2>/dev/null || cargo build --release
vigil="$PWD/target/release/vigil"
(cd "$ws" && cargo nextest list >/dev/null 2>&1)
echo "tests: $(cd "$ws" && cargo nextest list 2>/dev/null | grep -c case_)"
export VIGIL_STATE_DIR="$PWD/target/bench-check/state"
hyperfine --runs "$runs" --export-json target/bench-check/hyperfine.json \
  -n "vigil check --runs 20" "cd $ws && $vigil check --runs 20 --format json > /dev/null" \
  -n "cargo nextest run --stress-count 20" "cd $ws && cargo nextest run --stress-count 20 --no-fail-fast > /dev/null 2>&1"
python3 - <<'PY'
import json
r = json.load(open("target/bench-check/hyperfine.json"))["results"]
m = {x["command"]: x["median"] for x in r}
v, n = m["vigil check --runs 20"], m["cargo nextest run --stress-count 20"]
print(f"median: vigil check {v:.1f} s, nextest stress {n:.1f} s, ratio {v/n:.2f}x "
      "(vigil: 20 runs alone + 20 with copies at once + network + 2 clock shifts + a temp-dir run per test;"
      " nextest: 20 runs per test)")
PY
