#!/usr/bin/env python3
"""The doc lane against its peers: on the published semver 1.0.28 (unit
tests, integration tests and doctests), `vigil run --all` with its
defaults (coverage on: nextest and `cargo test --doc` instrumented, every
test's and doctest's map read) and with coverage off, against `cargo
nextest run` followed by `cargo test --doc`, what a user runs today to get
both, in one hyperfine run, warm builds. Medians and the ratios.

    scripts/bench-doc.py [RUNS]
"""
import json, pathlib, subprocess, sys, tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from benchlib import env, semver  # noqa: E402

runs = sys.argv[1] if len(sys.argv) > 1 else "10"
work = ROOT / "target" / "bench-doc"
ws = semver(work / "semver")
vigil = ROOT / "target" / "release" / "vigil"
cfg = work / "vigil.toml"
cfg.write_text('[coverage]\nmode = "off"\n')
e = env()
e["VIGIL_STATE_DIR"] = str(work / "state")
subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
for warm in (["cargo", "nextest", "run"], ["cargo", "test", "--doc"], [str(vigil), "run", ".", "--config", str(cfg)],
             [str(vigil), "run", "."]):
    subprocess.run(warm, cwd=ws, env=e, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
out = pathlib.Path(tempfile.mkdtemp()) / "doc.json"
subprocess.run(["hyperfine", "--warmup", "1", "--runs", runs, "-i", "--export-json", str(out),
                "-n", "cargo nextest run && cargo test --doc", "cargo nextest run && cargo test --doc",
                "-n", "vigil run (nextest + doc lane, coverage off)", f"{vigil} run . --config {cfg}",
                "-n", "vigil run (defaults: coverage on)", f"{vigil} run ."],
               cwd=ws, env=e, check=True)
r = json.loads(out.read_text())["results"]
peer, off, on = r[0]["median"], r[1]["median"], r[2]["median"]
print(f"peer {peer:.3f} s; vigil, coverage off {off:.3f} s ({off / peer:.3f}x); "
      f"vigil, defaults {on:.3f} s ({on / peer:.3f}x)")
