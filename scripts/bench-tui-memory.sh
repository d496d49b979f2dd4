#!/usr/bin/env bash
# Resident memory of the live view with 10,000 tests loaded: generates a
# crate with 10,000 tests under target/bench-10k, opens the release vigil on
# it in tmux, waits for the run to finish, and reads the peak (VmHWM) and
# current (VmRSS) resident memory of the vigil process. Target: under 60 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
ws=target/bench-10k
mkdir -p "$ws/src"
cat > "$ws/Cargo.toml" <<'TOML'
[package]
name = "tenk"
version = "0.1.0"
edition = "2021"

[workspace]
TOML
{
  for m in $(seq 0 19); do
    echo "mod m$m {"
    for t in $(seq 0 499); do echo "    #[test] fn case_$t() { assert!($t < 1000); }"; done
    echo "}"
  done
} > "$ws/src/lib.rs"
(cd "$ws" && cargo test --no-run --quiet 2>/dev/null)
tmux -L vigil-bench kill-server 2>/dev/null || true
tmux -L vigil-bench new-session -d -s b -x 120 -y 35 "target/release/vigil $ws"
for _ in $(seq 1 600); do
  if tmux -L vigil-bench capture-pane -p -t b | grep -q "run 1 · manual · passed"; then break; fi
  sleep 0.5
done
pid=$(pgrep -n -x vigil)
tmux -L vigil-bench capture-pane -p -t b | head -3
grep -E "VmHWM|VmRSS" "/proc/$pid/status"
tmux -L vigil-bench send-keys -t b G
sleep 0.5
grep -E "VmHWM|VmRSS" "/proc/$pid/status"
tmux -L vigil-bench send-keys -t b q
sleep 1
tmux -L vigil-bench kill-server 2>/dev/null || true
