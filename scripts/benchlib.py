"""What the benchmark scripts share: a clean environment for cargo and
nextest (LLVM tools from Debian's llvm-22 when present), and the published
semver 1.0.28 as a workspace of its own."""
import glob, os, shutil, subprocess


def env():
    e = {k: v for k, v in os.environ.items() if not k.startswith("NEXTEST") and k != "CARGO"}
    llvm = subprocess.run(["llvm-config-22", "--bindir"], capture_output=True, text=True)
    if llvm.returncode == 0:
        bindir = llvm.stdout.strip()
        e.setdefault("LLVM_COV", f"{bindir}/llvm-cov")
        e.setdefault("LLVM_PROFDATA", f"{bindir}/llvm-profdata")
    return e


def semver(dest):
    """semver 1.0.28 fetched through cargo, its source copied to `dest`."""
    if dest.exists():
        return dest
    probe = dest.parent / "fetch"
    (probe / "src").mkdir(parents=True, exist_ok=True)
    (probe / "Cargo.toml").write_text('[package]\nname = "probe"\nversion = "0.0.0"\nedition = "2021"\n'
                                      '[dependencies]\nsemver = "=1.0.28"\n')
    (probe / "src" / "lib.rs").write_text("")
    subprocess.run(["cargo", "fetch", "--quiet"], cwd=probe, check=True, env=env())
    home = os.environ.get("CARGO_HOME", os.path.expanduser("~/.cargo"))
    src = glob.glob(f"{home}/registry/src/*/semver-1.0.28")[0]
    shutil.copytree(src, dest)
    (dest / "Cargo.toml").write_text((dest / "Cargo.toml").read_text() + "\n[workspace]\n")
    subprocess.run(["cargo", "generate-lockfile", "--quiet"], cwd=dest, check=True, env=env())
    return dest
