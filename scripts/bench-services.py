#!/usr/bin/env python3
"""What the service gate costs a run: `vigil run` on the svc fixture with no
service configured, with the `bridge` service configured and healthy (one
HTTP probe before `nextest run`), and plain `cargo nextest run`, side by
side in one hyperfine run (coverage off, build warm).

    scripts/bench-services.py [RUNS]
"""
import os, pathlib, socket, subprocess, sys, tempfile, time

from benchlib import env

root = pathlib.Path(__file__).resolve().parent.parent
fixture = root / "tests/fixtures/svc"
vigil = root / "target/release/vigil"
runs = sys.argv[1] if len(sys.argv) > 1 else "15"

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
tmp = pathlib.Path(tempfile.mkdtemp(prefix="vigil-bench-services-"))
plain, gated = tmp / "plain.toml", tmp / "gated.toml"
plain.write_text('[coverage]\nmode = "off"\n')
gated.write_text(f'[coverage]\nmode = "off"\n[[service]]\nname = "bridge"\n'
                 f'check = "http://127.0.0.1:{port}/health"\nneeded_by = "binary_id(svc::bridge)"\n')
e = env()
e["SVC_PORT"] = str(port)
e["VIGIL_STATE_DIR"] = str(tmp / "state")
service = subprocess.Popen(["python3", "service.py", str(port)], cwd=fixture)
try:
    time.sleep(0.5)
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=root, check=True)
    subprocess.run(["cargo", "nextest", "run"], cwd=fixture, check=True, env=e,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run([
        "hyperfine", "--warmup", "2", "--runs", runs, "-N", "--export-json", str(tmp / "result.json"),
        "-n", "cargo nextest run", f"cargo nextest run --manifest-path {fixture}/Cargo.toml",
        "-n", "vigil run (no service)", f"{vigil} run {fixture} --config {plain}",
        "-n", "vigil run (bridge gated, healthy)", f"{vigil} run {fixture} --config {gated}",
    ], check=True, env=e)
    import json
    results = json.loads((tmp / "result.json").read_text())["results"]
    base = results[1]["median"]
    for r in results:
        print(f"{r['command']:<36} median {r['median'] * 1000:7.1f} ms  ({r['median'] / base:.3f}x of vigil without a service)")
finally:
    service.kill()
