//! Reads what cargo recorded about each compilation of the workspace's own
//! packages: rustc's dep-info files (`<profile>/deps/<crate>-<hash>.d`, every
//! file the compilation read, `include_str!` targets included) and build
//! scripts' recorded output (`<profile>/build/<pkg>-<hash>/output`, with its
//! `rerun-if-changed` paths). Nothing is guessed: a file that no record
//! names is left to the package that holds it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::core::catalog::{Package, Workspace};
use crate::core::inputs::{normalize, BuildReads, Inputs, Owner, Via};

/// A compilation target of a local package, by crate name.
struct Unit<'a> {
    package: &'a Package,
    member: bool,
    src_path: PathBuf,
    kinds: &'a [String],
    name: &'a str,
}

impl Unit<'_> {
    /// Who is rebuilt with this compilation.
    fn owner(&self) -> Owner {
        let kind = |k: &str| self.kinds.iter().any(|x| x == k);
        let pkg = &self.package.name;
        let binary = |binary_id: String| Owner::Binary {
            package: pkg.clone(),
            binary_id,
        };
        if !self.member {
            return Owner::Package(pkg.clone());
        }
        if kind("test") {
            binary(format!("{pkg}::{}", self.name))
        } else if kind("bench") {
            binary(format!("{pkg}::bench/{}", self.name))
        } else if kind("example") {
            binary(format!("{pkg}::example/{}", self.name))
        } else {
            // A library, or a binary that the package's integration tests
            // run: the package and what depends on it.
            Owner::Package(pkg.clone())
        }
    }
}

/// The profile directories cargo builds into below `target_dir` (the plain
/// build, vigil's instrumented build, and per-target-triple builds).
fn profile_dirs(target_dir: &Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let mut roots = vec![
        target_dir.to_path_buf(),
        target_dir.join("vigil").join("coverage-target"),
    ];
    if let Ok(entries) = std::fs::read_dir(target_dir) {
        for e in entries.flatten() {
            // `target/x86_64-unknown-linux-gnu/debug`
            if e.file_name().to_string_lossy().matches('-').count() >= 2 {
                roots.push(e.path());
            }
        }
    }
    for root in roots {
        let debug = root.join("debug");
        if debug.join("deps").is_dir() {
            dirs.push(debug);
        }
    }
    dirs
}

/// Indexes every recorded input of the workspace's local packages.
pub fn index(ws: &Workspace) -> Inputs {
    let mut inputs = Inputs::default();
    let locals = ws
        .packages
        .iter()
        .map(|p| (p, true))
        .chain(ws.path_deps.iter().map(|p| (p, false)));
    let mut units: HashMap<String, Vec<Unit>> = HashMap::new();
    let mut by_name: HashMap<&str, &Package> = HashMap::new();
    for (package, member) in locals {
        by_name.insert(&package.name, package);
        for t in &package.targets {
            units.entry(t.name.replace('-', "_")).or_default().push(Unit {
                package,
                member,
                src_path: t.src_path.clone(),
                kinds: &t.kinds,
                name: &t.name,
            });
        }
    }
    for profile in profile_dirs(&ws.target_dir) {
        let Ok(entries) = std::fs::read_dir(profile.join("deps")) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(stem) = name.strip_suffix(".d") else { continue };
            let Some((krate, _hash)) = stem.rsplit_once('-') else {
                continue;
            };
            let Some(candidates) = units.get(krate) else { continue };
            let Ok(text) = std::fs::read_to_string(e.path()) else {
                continue;
            };
            let files = dep_info_files(&text, &ws.root);
            let Some(root) = files.first() else { continue };
            let Some(unit) = candidates.iter().find(|u| normalize(&u.src_path) == *root) else {
                continue;
            };
            inputs.compilations += 1;
            let owner = unit.owner();
            for f in files.iter().filter(|f| !f.starts_with(&ws.target_dir)) {
                inputs.add_file(f.clone(), owner.clone(), Via::Compiled);
            }
            for var in env_deps(&text) {
                inputs.add_env(&unit.package.name, var, owner.clone());
            }
        }
        build_scripts(&profile.join("build"), ws, &by_name, &mut inputs);
    }
    inputs
}

/// Build scripts' own sources (their dep-info) and their
/// `rerun-if-changed` paths, owned by their package; for a script without
/// `rerun-if` lines, what the tracer saw it read on that run.
fn build_scripts(build: &Path, ws: &Workspace, by_name: &HashMap<&str, &Package>, inputs: &mut Inputs) {
    let Ok(entries) = std::fs::read_dir(build) else { return };
    for e in entries.flatten() {
        let dir_name = e.file_name().to_string_lossy().into_owned();
        let Some((pkg, _hash)) = dir_name.rsplit_once('-') else {
            continue;
        };
        let Some(package) = by_name.get(pkg) else { continue };
        let owner = Owner::Package(package.name.clone());
        let Ok(files) = std::fs::read_dir(e.path()) else {
            continue;
        };
        for f in files.flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            if name != "output" && !(name.starts_with("build_script_") && name.ends_with(".d")) {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(f.path()) else {
                continue;
            };
            if name == "output" {
                if !reruns_on_directives(&text) {
                    // No `rerun-if` line: cargo reruns the script when any
                    // file of the package changes.
                    inputs.add_whole_package(&package.name, traced_run(&e.path()));
                }
                for path in rerun_if_changed(&text) {
                    let path = normalize(&package.manifest_dir.join(path));
                    if path.is_dir() {
                        inputs.add_dir(path, owner.clone());
                    } else {
                        inputs.add_file(path, owner.clone(), Via::RerunIfChanged);
                    }
                }
            } else {
                for path in dep_info_files(&text, &ws.root) {
                    inputs.add_file(path, owner.clone(), Via::Compiled);
                }
                for var in env_deps(&text) {
                    inputs.add_env(&package.name, var, owner.clone());
                }
            }
        }
    }
}

/// What the build script's last run in `run_dir` read, if the tracer saw
/// that run: its record is there and no newer than the run's start
/// (cargo's `invoked.timestamp`, touched as the script starts; a run
/// without vigil leaves an older record behind it).
fn traced_run(run_dir: &Path) -> Option<BuildReads> {
    let record = run_dir.join(crate::adapters::reads::BUILD_RECORD);
    let written = record.metadata().and_then(|m| m.modified()).ok()?;
    let invoked = run_dir
        .join("invoked.timestamp")
        .metadata()
        .and_then(|m| m.modified())
        .ok()?;
    if written < invoked {
        return None;
    }
    std::fs::read_to_string(record).ok().map(|t| BuildReads::parse(&t))
}

/// The files of a dep-info file's first rule (`out: a.rs b.txt`), absolute
/// (relative ones are relative to `root`, where cargo ran rustc), crate root
/// first.
pub(crate) fn dep_info_files(text: &str, root: &Path) -> Vec<PathBuf> {
    let Some(line) = text.lines().find(|l| !l.trim().is_empty() && !l.starts_with('#')) else {
        return Vec::new();
    };
    // The target may itself hold `: ` only escaped; split at the first
    // unescaped ": ".
    let Some(deps) = split_rule(line) else {
        return Vec::new();
    };
    let mut files = Vec::new();
    let mut current = String::new();
    let mut chars = deps.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&' ') => {
                current.push(' ');
                chars.next();
            }
            ' ' => {
                if !current.is_empty() {
                    files.push(std::mem::take(&mut current));
                }
            }
            other => current.push(other),
        }
    }
    if !current.is_empty() {
        files.push(current);
    }
    files.into_iter().map(|f| normalize(&root.join(f))).collect()
}

fn split_rule(line: &str) -> Option<&str> {
    let bytes = line.as_bytes();
    for i in 0..bytes.len() {
        if bytes[i] == b':' && (i + 1 == bytes.len() || bytes[i + 1] == b' ') && (i == 0 || bytes[i - 1] != b'\\') {
            return Some(&line[i + 1..]);
        }
    }
    None
}

/// `cargo:rerun-if-changed=PATH` (and the `cargo::` form of newer cargo).
pub(crate) fn rerun_if_changed(output: &str) -> Vec<&str> {
    output
        .lines()
        .filter_map(|l| {
            l.strip_prefix("cargo::rerun-if-changed=")
                .or_else(|| l.strip_prefix("cargo:rerun-if-changed="))
        })
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
}

/// The environment variables a compilation read (`# env-dep:NAME=value`
/// or `# env-dep:NAME` for one that was not set).
pub(crate) fn env_deps(dep_info: &str) -> impl Iterator<Item = &str> {
    dep_info
        .lines()
        .filter_map(|l| l.strip_prefix("# env-dep:"))
        .map(|l| l.split_once('=').map_or(l, |(k, _)| k))
}

/// Whether a build script's output names what it reruns on (any
/// `rerun-if-changed` or `rerun-if-env-changed`); without one, cargo reruns
/// it on every change to its package.
pub(crate) fn reruns_on_directives(output: &str) -> bool {
    output.lines().any(|l| {
        let l = l.strip_prefix("cargo::").or_else(|| l.strip_prefix("cargo:"));
        l.is_some_and(|l| l.starts_with("rerun-if-changed=") || l.starts_with("rerun-if-env-changed="))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_dep_lines_name_the_variables_read() {
        let text = "/w/d.d: src/lib.rs\n\nsrc/lib.rs:\n\n# env-dep:CARGO_PKG_VERSION=0.2.0\n# env-dep:UNSET\n";
        assert_eq!(env_deps(text).collect::<Vec<_>>(), ["CARGO_PKG_VERSION", "UNSET"]);
    }

    #[test]
    fn a_build_script_without_rerun_lines_reruns_on_the_whole_package() {
        assert!(!reruns_on_directives("cargo:rustc-cfg=fast\n"));
        assert!(reruns_on_directives("cargo:rerun-if-changed=build.rs\n"));
        assert!(reruns_on_directives("cargo::rerun-if-env-changed=CC\n"));
    }

    #[test]
    fn dep_info_lists_the_crate_root_first_and_included_files() {
        let text =
            "/w/target/debug/deps/data-1.d: data/src/lib.rs data/src/../fixtures/my\\ words.txt /abs/shared.txt\n\n\
                    /w/target/debug/deps/libdata-1.rlib: data/src/lib.rs\n\ndata/src/lib.rs:\n";
        assert_eq!(
            dep_info_files(text, Path::new("/w")),
            vec![
                PathBuf::from("/w/data/src/lib.rs"),
                PathBuf::from("/w/data/fixtures/my words.txt"),
                PathBuf::from("/abs/shared.txt"),
            ]
        );
    }

    #[test]
    fn both_forms_of_rerun_if_changed_are_read() {
        let out = "cargo:rustc-env=X=1\ncargo:rerun-if-changed=data/x.txt\ncargo::rerun-if-changed=assets\n";
        assert_eq!(rerun_if_changed(out), vec!["data/x.txt", "assets"]);
    }
}
