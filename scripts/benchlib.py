"""What the benchmark scripts share: a clean environment for cargo and
nextest (LLVM tools from Debian's llvm-22 when present), and published crates
(semver 1.0.28 among them) as workspaces of their own."""
import glob, os, shutil, subprocess


def env():
    e = {k: v for k, v in os.environ.items() if not k.startswith("NEXTEST") and k != "CARGO"}
    llvm = subprocess.run(["llvm-config-22", "--bindir"], capture_output=True, text=True)
    if llvm.returncode == 0:
        bindir = llvm.stdout.strip()
        e.setdefault("LLVM_COV", f"{bindir}/llvm-cov")
        e.setdefault("LLVM_PROFDATA", f"{bindir}/llvm-profdata")
    return e


def source(name, version, work):
    """A published crate's source as cargo unpacked it (fetched through a
    probe crate of its own in `work`, so that two versions never meet in
    one resolution)."""
    home = os.environ.get("CARGO_HOME", os.path.expanduser("~/.cargo"))
    found = glob.glob(f"{home}/registry/src/*/{name}-{version}")
    if found:
        return found[0]
    probe = work / f"fetch-{name}-{version}"
    (probe / "src").mkdir(parents=True, exist_ok=True)
    (probe / "Cargo.toml").write_text('[package]\nname = "probe"\nversion = "0.0.0"\nedition = "2021"\n'
                                      f'[dependencies]\n{name} = "={version}"\n')
    (probe / "src" / "lib.rs").write_text("")
    subprocess.run(["cargo", "fetch", "--quiet"], cwd=probe, check=True, env=env())
    return glob.glob(f"{home}/registry/src/*/{name}-{version}")[0]


def published(name, version, dest):
    """A published crate fetched through cargo, its source copied to `dest`
    as a workspace of its own (with a lock file)."""
    if dest.exists():
        return dest
    src = source(name, version, dest.parent)
    shutil.copytree(src, dest)
    manifest = (dest / "Cargo.toml").read_text()
    if "[workspace]" not in manifest:
        (dest / "Cargo.toml").write_text(manifest + "\n[workspace]\n")
    if not (dest / "Cargo.lock").exists():
        subprocess.run(["cargo", "generate-lockfile", "--quiet"], cwd=dest, check=True, env=env())
    return dest


def semver(dest):
    """semver 1.0.28 fetched through cargo, its source copied to `dest`."""
    return published("semver", "1.0.28", dest)
