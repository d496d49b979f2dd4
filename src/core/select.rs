//! Affected-test selection: from a change set and the workspace graph to a
//! run plan with a reason for every selected binary. Pure: paths are data.
//!
//! Rules, most specific first:
//! - `Cargo.toml`, `Cargo.lock`, `build.rs`, `.cargo/config*`,
//!   `rust-toolchain*`, `.config/nextest.toml`, `vigil.toml` → everything,
//!   and the workspace and config are reloaded;
//! - a file of one integration target (`tests/x.rs`, `tests/x/…`) → that
//!   binary; another file under `tests/` → the package's test binaries;
//! - any other file inside a package (sources, fixtures, `include_str!`
//!   data) → every test binary of the package and of every member that
//!   depends on it, directly or not;
//! - a file outside every package → nothing.
//!
//! Tests that failed or were cancelled last time, and tests never run, are
//! always added.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::catalog::{Catalog, Package, Workspace};
use super::test_state::TestState;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Nothing can be affected.
    Nothing {
        ignored: Vec<String>,
    },
    /// Run every test (and reload the workspace and config first when
    /// `reload`).
    Everything {
        reload: bool,
        reasons: Vec<String>,
    },
    Some(Targeted),
}

/// A selection as a nextest filterset, with why each part is in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Targeted {
    pub filterset: String,
    /// Selected binary ids (as far as the catalog knows them) → reason.
    pub binaries: BTreeMap<String, String>,
    /// Run-level reasons, in order.
    pub reasons: Vec<String>,
}

/// Where a change lands.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Scope {
    Everything,
    /// One integration target of a package.
    Target {
        package: String,
        target: String,
    },
    /// The package's `tests/` binaries.
    PackageTests(String),
    /// The package and everything depending on it.
    Package(String),
    Outside,
}

const EVERYTHING_NAMES: &[&str] = &["Cargo.toml", "Cargo.lock", "build.rs", "vigil.toml"];

fn scope(ws: &Workspace, path: &Path) -> Scope {
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    if EVERYTHING_NAMES.contains(&name.as_ref()) || name.starts_with("rust-toolchain") {
        return Scope::Everything;
    }
    if let Ok(rel) = path.strip_prefix(&ws.root) {
        let mut parts = rel.components().map(|c| c.as_os_str().to_string_lossy());
        match (parts.next().as_deref(), parts.next().as_deref()) {
            (Some(".cargo"), Some(f)) if f.starts_with("config") => return Scope::Everything,
            (Some(".config"), Some("nextest.toml")) => return Scope::Everything,
            _ => {}
        }
    }
    let Some(pkg) = owning_package(ws, path) else {
        return Scope::Outside;
    };
    let tests_dir = pkg.manifest_dir.join("tests");
    if let Ok(rel) = path.strip_prefix(&tests_dir) {
        for t in pkg.targets.iter().filter(|t| t.kinds.iter().any(|k| k == "test")) {
            // tests/x.rs, or tests/x/main.rs with its modules beside it.
            let dir = t.src_path.parent().unwrap_or(&t.src_path);
            let single_file = t.src_path == path;
            let own_dir = dir != tests_dir && path.starts_with(dir);
            if single_file || own_dir {
                return Scope::Target {
                    package: pkg.name.clone(),
                    target: t.name.clone(),
                };
            }
        }
        if rel.components().count() >= 1 {
            return Scope::PackageTests(pkg.name.clone());
        }
    }
    Scope::Package(pkg.name.clone())
}

/// The member whose directory holds `path` (the deepest, for nested ones).
fn owning_package<'a>(ws: &'a Workspace, path: &Path) -> Option<&'a Package> {
    ws.packages
        .iter()
        .filter(|p| path.starts_with(&p.manifest_dir))
        .max_by_key(|p| p.manifest_dir.components().count())
}

fn display(ws: &Workspace, path: &Path) -> String {
    path.strip_prefix(&ws.root).unwrap_or(path).display().to_string()
}

pub fn plan(ws: &Workspace, catalog: &Catalog, changed: &[PathBuf]) -> Plan {
    let mut everything = Vec::new();
    let mut ignored = Vec::new();
    // filterset term → reason; BTreeMap keeps the output stable.
    let mut terms: BTreeMap<String, String> = BTreeMap::new();
    let mut binaries: BTreeMap<String, String> = BTreeMap::new();
    let mut reasons: Vec<String> = Vec::new();
    let add_reason = |r: String, reasons: &mut Vec<String>| {
        if !reasons.contains(&r) {
            reasons.push(r);
        }
    };
    for path in changed {
        let shown = display(ws, path);
        match scope(ws, path) {
            Scope::Everything => everything.push(format!("`{shown}` changed: everything runs")),
            Scope::Outside => ignored.push(shown),
            Scope::Target { package, target } => {
                let id = format!("{package}::{target}");
                let reason = format!("`{shown}` changed");
                terms
                    .entry(format!("binary_id({id})"))
                    .or_insert_with(|| reason.clone());
                binaries.entry(id).or_insert_with(|| reason.clone());
                add_reason(reason, &mut reasons);
            }
            Scope::PackageTests(package) => {
                let reason = format!("`{shown}` changed (shared by `{package}`'s tests)");
                terms
                    .entry(format!("package({package}) & kind(test)"))
                    .or_insert_with(|| reason.clone());
                for s in catalog
                    .suites
                    .iter()
                    .filter(|s| s.package == package && s.kind == "test")
                {
                    binaries
                        .entry(s.binary_id.to_string())
                        .or_insert_with(|| reason.clone());
                }
                add_reason(reason, &mut reasons);
            }
            Scope::Package(package) => {
                let base = format!("`{shown}` changed");
                let mut affected = vec![(package.clone(), base.clone())];
                for dep in ws.dependents(&package) {
                    let why = format!("{base}; `{dep}` depends on `{package}`");
                    affected.push((dep, why));
                }
                for (pkg, why) in affected {
                    terms.entry(format!("package({pkg})")).or_insert_with(|| why.clone());
                    for s in catalog.suites.iter().filter(|s| s.package == pkg) {
                        binaries.entry(s.binary_id.to_string()).or_insert_with(|| why.clone());
                    }
                    add_reason(why, &mut reasons);
                }
            }
        }
    }
    if !everything.is_empty() {
        return Plan::Everything {
            reload: true,
            reasons: everything,
        };
    }
    if terms.is_empty() {
        return Plan::Nothing { ignored };
    }
    // Always: what failed last time and what never ran.
    for suite in &catalog.suites {
        if binaries.contains_key(&*suite.binary_id) {
            continue;
        }
        for t in &suite.tests {
            let why = match (t.state, t.run) {
                (TestState::Failed | TestState::Xpass, _) => "failed last time",
                // A stopped run left no result: as good as never run.
                (TestState::Cancelled, _) => "cancelled last time",
                (_, None) if !t.ignored => "never run",
                _ => continue,
            };
            terms.insert(
                format!("(binary_id({}) & test(={}))", suite.binary_id, t.name),
                why.to_owned(),
            );
            add_reason(format!("{} {}: {why}", suite.binary_id, t.name), &mut reasons);
        }
    }
    Plan::Some(Targeted {
        filterset: terms.keys().cloned().collect::<Vec<_>>().join(" | "),
        binaries,
        reasons,
    })
}
