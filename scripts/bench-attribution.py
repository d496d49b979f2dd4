#!/usr/bin/env python3
"""Attribution on a real change set: the Rust files that differ between two
published versions of registry crates (fetched through cargo), placed as
vigil places a change set (`benches/attribution.rs`, group "published
versions", beside the generated branch switch). The first 1,000 changed
files, in the order below (each crate's files sorted by path), are the
change set; the bench prints their size and how they were placed.

Run: scripts/bench-attribution.py [FILES]"""
import os, pathlib, subprocess, sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from benchlib import env, source  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
WORK = ROOT / "target" / "bench-attribution"
FILES = int(sys.argv[1]) if len(sys.argv) > 1 else 1000

# (crate, old, new): hand-written crates with many changed files between
# the two versions (no generated bindings).
PAIRS = [
    ("rustix", "0.38.38", "1.1.6"), ("libc", "0.2.161", "0.2.191"), ("syn", "1.0.109", "3.0.10"),
    ("nix", "0.29.0", "0.31.4"), ("regex-automata", "0.4.8", "0.4.19"), ("winnow", "0.7.15", "1.0.5"),
    ("zerocopy-derive", "0.8.48", "0.8.64"), ("clap_builder", "4.5.20", "4.6.10"), ("clap", "4.5.20", "4.6.10"),
    ("zerocopy", "0.8.48", "0.8.64"), ("hashbrown", "0.15.5", "0.17.2"), ("const_format", "0.2.33", "0.2.37"),
    ("tracing-subscriber", "0.3.20", "0.3.23"), ("getrandom", "0.3.3", "0.4.3"), ("itertools", "0.13.0", "0.14.0"),
    ("strum_macros", "0.26.4", "0.28.0"), ("bstr", "1.10.0", "1.14.0"), ("anyhow", "1.0.86", "1.0.105"),
    ("toml", "0.9.12+spec-1.1.0", "1.1.2+spec-1.1.0"), ("borsh", "1.5.5", "1.8.1"), ("thiserror", "1.0.65", "2.0.21"),
    ("pin-project-lite", "0.2.16", "0.2.18"), ("criterion", "0.7.0", "0.8.2"), ("serde_json", "1.0.145", "1.0.154"),
    ("similar", "2.1.0", "2.7.0"), ("ryu", "1.0.20", "1.0.23"), ("indexmap", "2.14.0", "2.14.2"),
    ("cc", "1.2.41", "1.11.3"),
]


def main():
    WORK.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, old, new in PAIRS:
        a, b = pathlib.Path(source(name, old, WORK)), pathlib.Path(source(name, new, WORK))
        for pa in sorted(a.rglob("*.rs")):
            pb = b / pa.relative_to(a)
            if pb.is_file() and pa.read_bytes() != pb.read_bytes():
                rows.append(f"{pa}\t{pb}")
        if len(rows) >= FILES:
            break
    rows = rows[:FILES]
    print(f"{len(rows)} changed files from {len(PAIRS)} crates' version pairs")
    pairs = WORK / "pairs.txt"
    pairs.write_text("\n".join(rows) + "\n")
    subprocess.run(["cargo", "bench", "--bench", "attribution", "--", "--noplot"], cwd=ROOT, check=True,
                   env=env() | {"VIGIL_BENCH_PAIRS": str(pairs)})


if __name__ == "__main__":
    main()
