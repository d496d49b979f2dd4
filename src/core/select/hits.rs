//! What one changed file reaches: the compilations that read it (dep-info,
//! build scripts), the tests that read it at run time, a manifest's
//! verdict, or its package's place in the graph.

use super::*;

/// What one changed path selects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Hit {
    Everything,
    /// One test binary.
    Binary {
        binary_id: String,
    },
    /// A member's `tests/` binaries.
    PackageTests(String),
    /// A local package and everything that depends on it.
    Package(String),
}

pub(super) const EVERYTHING_NAMES: &[&str] = &["Cargo.toml", "Cargo.lock", "vigil.toml"];

/// The tests a change to `path` reaches through what they read at run
/// time, when that is its only way to them: no compilation reads it, and it
/// is no package's Rust source (nor any package's file at all, unless every
/// test's reads are recorded). `None`: the path has another way in.
pub(crate) fn run_time_only(ws: &Workspace, inputs: &Inputs, runtime: &Evidence, path: &Path) -> Option<Vec<TestKey>> {
    if !inputs.owners(path).is_empty() || everything_file(ws, path) || whole_package_input(ws, inputs, path).is_some() {
        return None;
    }
    let source = path.extension().is_some_and(|e| e == "rs");
    if ws.owning_package(path).is_some() && (source || !runtime.traced) {
        return None;
    }
    Some(runtime.readers(&ws.relative(path)))
}

/// Cargo's and vigil's own configuration: a change reloads everything.
pub(super) fn everything_file(ws: &Workspace, path: &Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    if EVERYTHING_NAMES.contains(&name.as_ref()) || name.starts_with("rust-toolchain") {
        return true;
    }
    let Ok(rel) = path.strip_prefix(&ws.root) else {
        return false;
    };
    let mut parts = rel.components().map(|c| c.as_os_str().to_string_lossy());
    matches!(
        (parts.next().as_deref(), parts.next().as_deref()),
        (Some(".cargo"), Some(f)) if f.starts_with("config")
    ) || rel == Path::new(".config/nextest.toml")
}

/// The package whose build script reruns on every file of it, when `path`
/// is one of its files (the innermost package's, as cargo lists them) and
/// the script may read it, with why. Rerun, a script prints what it did
/// before unless what it reads changed: where the tracer saw what it read,
/// only those files reach the package through it.
pub(super) fn whole_package_input<'a>(ws: &'a Workspace, inputs: &Inputs, path: &Path) -> Option<(&'a str, String)> {
    let (pkg, _) = ws.owning_package(path)?;
    let p = pkg.name.as_str();
    if !inputs.reruns_on_package(p) {
        return None;
    }
    match inputs.build_script_read(p, path) {
        Some(false) => None,
        Some(true) => Some((p, format!(" (`{p}`'s build script read it when it last ran)"))),
        None => Some((
            p,
            format!(" (`{p}`'s build script reruns on every file of its package)"),
        )),
    }
}

/// Whether a build script reads `path`: a `rerun-if-changed` path, or a
/// file of a package whose script reruns on all of them and may read it.
pub(crate) fn build_script_input(ws: &Workspace, inputs: &Inputs, path: &Path) -> bool {
    inputs.owners(path).iter().any(|(_, via)| *via == Via::RerunIfChanged)
        || whole_package_input(ws, inputs, path).is_some()
}

/// The binaries of `tests`, each with why ("read at run time by …").
pub(super) fn reader_hits(tests: &[TestKey]) -> Vec<(Hit, String)> {
    let mut by_binary: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for TestId(b, n) in tests {
        by_binary.entry(b).or_default().push(n);
    }
    by_binary
        .into_iter()
        .map(|(b, names)| {
            let who = match names.as_slice() {
                [one] => format!("`{one}`"),
                many => format!("{} tests", many.len()),
            };
            (
                Hit::Binary {
                    binary_id: b.to_owned(),
                },
                format!(" (read at run time by {who} of `{b}`)"),
            )
        })
        .collect()
}

/// What a changed manifest or lock file reaches, as hits.
pub(super) fn manifest_hits(inputs: &Inputs, verdict: &Verdict) -> Vec<(Hit, String)> {
    match verdict {
        Verdict::Everything(why) => vec![(Hit::Everything, format!(" ({why})"))],
        Verdict::Several(all) => {
            let mut found: Vec<(Hit, String)> = Vec::new();
            for v in all {
                for (hit, why) in manifest_hits(inputs, v) {
                    if !found.iter().any(|(h, _)| *h == hit) {
                        found.push((hit, why));
                    }
                }
            }
            found
        }
        Verdict::Packages(reached) => reached
            .iter()
            .map(|(p, why)| (Hit::Package(p.clone()), format!(" ({why})")))
            .collect(),
        Verdict::Env(changed) => {
            let mut found: Vec<(Hit, String)> = Vec::new();
            for (package, vars, why) in changed {
                for var in vars {
                    for owner in inputs.env_owners(package, var) {
                        let (hit, who) = match owner {
                            Owner::Package(p) => (Hit::Package(p.clone()), p),
                            Owner::Binary { binary_id, .. } => (
                                Hit::Binary {
                                    binary_id: binary_id.clone(),
                                },
                                binary_id,
                            ),
                        };
                        if !found.iter().any(|(h, _)| *h == hit) {
                            found.push((hit, format!(" ({why}; `{who}` reads `{var}` as it compiles)")));
                        }
                    }
                }
            }
            found
        }
    }
}

/// Every hit of `path`, each with why (the sentence after "changed").
pub(super) fn hits(ws: &Workspace, inputs: &Inputs, runtime: &Evidence, path: &Path) -> Vec<(Hit, String)> {
    if let Some(verdict) = runtime.verdict(path) {
        return manifest_hits(inputs, verdict);
    }
    if let Some(readers) = run_time_only(ws, inputs, runtime, path) {
        if !readers.is_empty() || ws.owning_package(path).is_some() {
            // Read at run time only, or (every test traced) by nothing.
            return reader_hits(&readers);
        }
    }
    if everything_file(ws, path) {
        return vec![(Hit::Everything, String::new())];
    }
    let mut found = Vec::new();
    if let Some((pkg, member)) = ws.owning_package(path) {
        found.push((structural(pkg, member, path), String::new()));
    }
    for (owner, via) in inputs.owners(path) {
        let hit = match &owner {
            Owner::Package(p) => Hit::Package(p.clone()),
            Owner::Binary { binary_id, .. } => Hit::Binary {
                binary_id: binary_id.clone(),
            },
        };
        let known = found.iter().position(|(h, _)| *h == hit);
        let source = path.extension().is_some_and(|e| e == "rs");
        if known.is_some() && source {
            continue;
        }
        let who = match &owner {
            Owner::Package(p) => format!("`{p}`"),
            Owner::Binary { binary_id, .. } => format!("`{binary_id}`"),
        };
        let why = match via {
            Via::Compiled => format!(" (read when compiling {who})"),
            Via::RerunIfChanged => format!(" ({who}'s build script reruns on it)"),
        };
        match known {
            // A data file inside its package: say how it is read.
            Some(i) => found[i].1 = why,
            None => found.push((hit, why)),
        }
    }
    if let Some((p, why)) = whole_package_input(ws, inputs, path) {
        let hit = Hit::Package(p.to_owned());
        match found.iter().position(|(h, _)| *h == hit) {
            Some(i) if path.extension().is_none_or(|e| e != "rs") => found[i].1 = why,
            Some(_) => {}
            None => found.push((hit, why)),
        }
    }
    // What tests read at run time, beside what compiles it.
    for (hit, why) in reader_hits(&runtime.readers(&ws.relative(path))) {
        if !found.iter().any(|(h, _)| *h == hit) {
            found.push((hit, why));
        }
    }
    if found.is_empty() && ws.graph_pending && !path.starts_with(&ws.target_dir) {
        // A path dependency outside the members is not known yet.
        return vec![(
            Hit::Everything,
            " (the dependency graph is still being read)".to_owned(),
        )];
    }
    if found.is_empty() && inputs.compilations == 0 && !path.starts_with(&ws.target_dir) {
        // Nothing was built yet: which compilation reads this file cannot
        // be known, and a miss is worse than a full run.
        return vec![(
            Hit::Everything,
            " (nothing is built yet to tell what reads it)".to_owned(),
        )];
    }
    found
}

/// Where a file inside a package lands by its place in the package.
pub(super) fn structural(pkg: &Package, member: bool, path: &Path) -> Hit {
    let tests_dir = pkg.manifest_dir.join("tests");
    if member && path.starts_with(&tests_dir) {
        for t in pkg.targets.iter().filter(|t| t.kinds.iter().any(|k| k == "test")) {
            // tests/x.rs, or tests/x/main.rs with its modules beside it.
            let dir = t.src_path.parent().unwrap_or(&t.src_path);
            let single_file = t.src_path == path;
            let own_dir = dir != tests_dir && path.starts_with(dir);
            if single_file || own_dir {
                return Hit::Binary {
                    binary_id: format!("{}::{}", pkg.name, t.name),
                };
            }
        }
        return Hit::PackageTests(pkg.name.clone());
    }
    Hit::Package(pkg.name.clone())
}
