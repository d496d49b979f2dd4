#!/usr/bin/env bash
# Fuzzes everything vigil reads of other programs' output (fuzz/, cargo
# fuzz on nightly): each target SECONDS seconds (600 unless given), two at a
# time, from seed corpora made here out of the real thing (nextest's
# recorded streams, rustdoc's output of a fixture, a profile and a test
# binary of an instrumented fixture build, llvm-cov's LCOV, the example
# config). Prints each target's runs and coverage, and any crash (its input
# under fuzz/artifacts/TARGET/); every crash becomes a regression test in
# tests/it/parsers.rs.
#
# Needs: cargo-fuzz (cargo install cargo-fuzz), the nightly toolchain,
# llvm-objcopy (llvm-22), and a release vigil.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-600}
seeds=target/fuzz-seeds
rm -rf "$seeds"
for t in nextest_list nextest_stream long_lines cargo_messages rustdoc_output profraw coverage_mapping lcov config attribution; do
  mkdir -p "$seeds/$t"
done
s=tests/fixtures/streams
cp $s/shop_list.json $s/demo_list_filtered.json "$seeds/nextest_list/"
cp $s/shop_run.jsonl $s/shop_build_error.jsonl "$seeds/nextest_stream/"
cp $s/shop_run.jsonl "$seeds/long_lines/"
python3 - "$seeds" <<'PY'
import json, sys
seeds = sys.argv[1]
out = "".join(f"{i:06} \"quoted\" \\ tab\t é ✓\n" for i in range(300))
line = json.dumps({"type": "test", "event": "failed", "name": "b$t", "exec_time": 0.1, "stdout": out})
open(f"{seeds}/long_lines/long.jsonl", "w").write('{"type":"suite"}\n' + line + "\nafter\n")
for n, l in enumerate(open("tests/fixtures/streams/shop_build_error.jsonl")):
    v = json.loads(l)
    if v.get("reason") == "compiler-message":
        open(f"{seeds}/cargo_messages/message-{n}.json", "w").write(json.dumps(v["message"]))
cfg = []
for l in open("config.example.toml"):
    s = l.strip()
    if s.startswith("# ") and "=" in s and not s.startswith("# `"):
        cfg.append(s[2:].split("  #")[0])
    elif s.startswith("[") or ("=" in s and not s.startswith("#")):
        cfg.append(s)
open(f"{seeds}/config/example.toml", "w").write("\n".join(cfg) + "\n")
PY
cp tests/fixtures/shop/vigil.toml "$seeds/config/shop.toml"
# rustdoc's own output, on a fixture with doctests.
(cd tests/fixtures/docmap && cargo test --doc --no-fail-fast 2>&1 || true) > "$seeds/rustdoc_output/docmap.txt"
# An instrumented fixture build (vigil's own), its profile and its mapping.
target/release/vigil run tests/fixtures/ledger > /dev/null 2>&1 || true
bin=$(find tests/fixtures/ledger/target/vigil/coverage-target/debug/deps -maxdepth 1 -type f -name 'totals-*' ! -name '*.d' | head -1)
LLVM_PROFILE_FILE="$seeds/profraw/totals.profraw" "$bin" > /dev/null
cp "$bin" "$seeds/coverage_mapping/totals.elf"
llvm-objcopy-22 --dump-section=__llvm_covmap="$seeds/covmap" --dump-section=__llvm_covfun="$seeds/covfun" "$bin" /dev/null
python3 - "$seeds" <<'PY'
import struct, sys
d = sys.argv[1]
cm, cf = open(f"{d}/covmap", "rb").read(), open(f"{d}/covfun", "rb").read()
open(f"{d}/coverage_mapping/sections.bin", "wb").write(struct.pack("<H", min(len(cm), 65535)) + cm[:65535] + cf)
PY
cp tests/fixtures/ledger/target/vigil/coverage/latest.lcov "$seeds/lcov/ledger.lcov"
# Attribution: a fixture source against itself edited (old NUL new).
python3 -c 'import sys; t = open("tests/fixtures/shop/money/src/lib.rs").read(); sys.stdout.write(t + "\0" + t.replace("a + b", "b + a"))' > "$seeds/attribution/money.rs"
(cd fuzz && cargo +nightly fuzz build -O 2>&1 | tail -1)
run() {
  local t=$1
  mkdir -p "fuzz/corpus/$t"
  (cd fuzz && cargo +nightly fuzz run -O "$t" "corpus/$t" "../$seeds/$t" -- \
      -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -max_len=262144 -print_final_stats=1 \
      > "../target/fuzz-$t.log" 2>&1) && echo "$t: no crash" || echo "$t: CRASH (see target/fuzz-$t.log, fuzz/artifacts/$t/)"
  grep -E "^stat::number_of_executed_units|^stat::new_units_added|cov: " "target/fuzz-$t.log" | tail -3 | sed "s/^/  $t: /"
}
targets=(nextest_list nextest_stream long_lines cargo_messages rustdoc_output profraw coverage_mapping lcov config attribution)
for ((i = 0; i < ${#targets[@]}; i += 2)); do
  run "${targets[i]}" &
  if ((i + 1 < ${#targets[@]})); then run "${targets[i + 1]}" & fi
  wait
done
