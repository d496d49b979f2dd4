#!/usr/bin/env python3
"""The doc lane against its peers: on the published semver 1.0.28 (unit
tests, integration tests and doctests), `vigil run` (nextest, then `cargo
test --doc`; coverage off) against `cargo nextest run` followed by `cargo
test --doc`, what a user runs today to get both, in one hyperfine run,
warm builds. Medians and the ratio.

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
for warm in (["cargo", "nextest", "run"], ["cargo", "test", "--doc"], [str(vigil), "run", ".", "--config", str(cfg)]):
    subprocess.run(warm, cwd=ws, env=e, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
out = pathlib.Path(tempfile.mkdtemp()) / "doc.json"
subprocess.run(["hyperfine", "--warmup", "1", "--runs", runs, "-i", "--export-json", str(out),
                "-n", "cargo nextest run && cargo test --doc", "cargo nextest run && cargo test --doc",
                "-n", "vigil run (nextest + doc lane)", f"{vigil} run . --config {cfg}"],
               cwd=ws, env=e, check=True)
r = json.loads(out.read_text())["results"]
peer, ours = r[0]["median"], r[1]["median"]
print(f"peer {peer:.3f} s, vigil {ours:.3f} s, ratio {ours / peer:.3f}x")
