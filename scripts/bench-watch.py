#!/usr/bin/env python3
"""Watch-mode latency against the floor, and idle CPU of `vigil watch`.

Generates a workspace of six crates under target/bench-watch: a chain
`base` <- `mid` <- `top`, and three crates that depend on nothing; each has
20 unit tests of ~20 ms and an integration test binary. Then, N times:

- vigil: with `vigil watch --no-tui --format json` running, append a comment
  to base/src/lib.rs and time until the run's `run_finished` line;
- floor: append a comment the same way and time
  `cargo nextest run -E 'package(base) | package(mid) | package(top)'`
  (the filterset a person would type) until it exits.

Both build what the edit invalidated, so the floor is the true cost of the
affected tests. Finally it samples vigil's CPU time over 30 s on an
unchanged tree.

With --patch the workspace is tied the way real ones are: member
`scopeguard` replaces the registry crate through `[patch.crates-io]`, `web`
uses it through the patch, `api` and `cli` depend on `web`, `app`'s tests
reach it through the registry crate `lock_api`, and two crates stand alone.
The edit is to scopeguard/src/lib.rs and the floor is
`cargo nextest run -E 'rdeps(scopeguard)'`.

Usage: scripts/bench-watch.py [ROUNDS] [--patch]
"""
import json, os, pathlib, statistics, subprocess, sys, threading, time, queue

ROOT = pathlib.Path(__file__).resolve().parent.parent
WS = ROOT / "target" / "bench-watch"
ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
ROUNDS = int(ARGS[0]) if ARGS else 5
PATCH = "--patch" in sys.argv
if PATCH:
    WS = ROOT / "target" / "bench-watch-patch"
    CRATES = {"scopeguard": [], "web": ["scopeguard"], "api": ["web"], "cli": ["api"], "app": [],
              "solo1": [], "solo2": []}
    EDITED, FLOOR, AFFECTED = "scopeguard", "rdeps(scopeguard)", 105
else:
    CRATES = {"base": [], "mid": ["base"], "top": ["mid"], "solo1": [], "solo2": [], "solo3": []}
    EDITED, FLOOR, AFFECTED = "base", "package(base) | package(mid) | package(top)", 63


def manifest(name, deps):
    if name == "scopeguard":
        return '[package]\nname = "scopeguard"\nversion = "1.2.99"\nedition = "2021"\n'
    lines = "".join(
        'scopeguard = "1.2"\n' if x == "scopeguard" else f'{x} = {{ path = "../{x}" }}\n' for x in deps)
    text = f'[package]\nname = "{name}"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\n{lines}'
    if name == "app":
        text += '\n[dev-dependencies]\nlock_api = { version = "0.4", default-features = false }\n'
    return text


def value(name, deps):
    if name == "scopeguard":
        # Only `defer!`, all that lock_api uses of the real crate.
        return ("pub struct Deferred<F: FnOnce()>(pub Option<F>);\n"
                "impl<F: FnOnce()> Drop for Deferred<F> { fn drop(&mut self) { if let Some(f) = self.0.take() { f() } } }\n"
                "#[macro_export]\nmacro_rules! defer { ($($b:tt)*) => { let _d = $crate::Deferred(Some(|| { $($b)*; })); }; }\n"
                "pub fn value() -> u64 { 1 }\n")
    return f"pub fn value() -> u64 {{ {' + '.join(f'{x}::value()' for x in deps) or '1'} }}\n"


def generate():
    WS.mkdir(parents=True, exist_ok=True)
    # Like for like with the floor: no coverage instrumentation.
    (WS / "vigil.toml").write_text('[coverage]\nmode = "off"\n')
    patch = '\n[patch.crates-io]\nscopeguard = { path = "scopeguard" }\n' if PATCH else ""
    (WS / "Cargo.toml").write_text(
        "[workspace]\nmembers = [%s]\nresolver = \"2\"\n%s" % (", ".join(f'"{c}"' for c in CRATES), patch))
    for name, deps in CRATES.items():
        d = WS / name
        (d / "src").mkdir(parents=True, exist_ok=True)
        (d / "tests").mkdir(exist_ok=True)
        (d / "Cargo.toml").write_text(manifest(name, deps))
        body = value(name, deps)
        body += "#[cfg(test)]\nmod tests {\n"
        for i in range(20):
            body += f"    #[test] fn t{i}() {{ std::thread::sleep(std::time::Duration::from_millis(20)); assert!(super::value() > 0); }}\n"
        body += "}\n"
        (d / "src" / "lib.rs").write_text(body)
        uses = "let _ = std::mem::size_of::<lock_api::GuardSend>(); " if name == "app" else ""
        (d / "tests" / "it.rs").write_text(f"#[test] fn works() {{ {uses}assert!({name}::value() > 0); }}\n")


def touch():
    p = WS / EDITED / "src" / "lib.rs"
    with open(p, "a") as f:
        f.write(f"// {time.time()}\n")


def env():
    e = dict(os.environ)
    for k in list(e):
        if k.startswith("NEXTEST"):
            del e[k]
    return e


def main():
    generate()
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    subprocess.run(["cargo", "nextest", "run", "--workspace"], cwd=WS, env=env(),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    def start():
        proc = subprocess.Popen([str(ROOT / "target/release/vigil"), "watch", "--no-tui", "--format", "json", str(WS)],
                                stdout=subprocess.PIPE, text=True, env=env())
        q = queue.Queue()
        threading.Thread(target=lambda: [q.put(json.loads(l)) for l in proc.stdout], daemon=True).start()
        return proc, q

    def until_finished(q):
        while True:
            v = q.get(timeout=300)
            if v["event"] == "run_finished":
                return v

    # vigil alone on the machine, then the floor alone: neither sees the other.
    vigil, lines = start()
    until_finished(lines)
    watch, floor = [], []
    for _ in range(ROUNDS):
        time.sleep(1)
        t0 = time.monotonic(); touch(); v = until_finished(lines); watch.append(time.monotonic() - t0)
        assert v["tests"]["total"] == AFFECTED, v["tests"]
    vigil.send_signal(2)
    vigil.wait(timeout=30)
    for _ in range(ROUNDS):
        time.sleep(1)
        t0 = time.monotonic(); touch()
        subprocess.run(["cargo", "nextest", "run", "-E", FLOOR],
                       cwd=WS, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        floor.append(time.monotonic() - t0)
    # Idle: no file changes for 30 s.
    vigil, lines = start()
    until_finished(lines)
    time.sleep(2)
    def cpu():
        fields = open(f"/proc/{vigil.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    c0, t0 = cpu(), time.monotonic()
    time.sleep(30)
    idle = (cpu() - c0) / (time.monotonic() - t0) * 100
    vigil.send_signal(2)
    vigil.wait(timeout=30)
    w, f = statistics.median(watch), statistics.median(floor)
    print(f"rounds: {ROUNDS}, workspace: {WS.name}, edit: {EDITED}/src/lib.rs, floor: -E '{FLOOR}'")
    print(f"vigil watch, write → last affected test finished: median {w:.3f} s  (all: {', '.join(f'{x:.2f}' for x in watch)})")
    print(f"floor, cargo nextest run -E typed by hand:         median {f:.3f} s  (all: {', '.join(f'{x:.2f}' for x in floor)})")
    print(f"vigil / floor: {w / f:.3f}  (target ≤ {'1.10' if PATCH else '1.15'})")
    print(f"idle CPU of vigil watch over 30 s: {idle:.2f} %  (target < 1 %)")


main()
