//! Manifests and the lock file by what changed. A change to `Cargo.lock`
//! reaches the members that depend on the packages whose resolved entry
//! changed (a registry crate's version or checksum, a package's resolved
//! dependencies); a change to a `Cargo.toml` that leaves everything but
//! package metadata as it was (a version bump, a description) reaches the
//! compilations that read a changed `CARGO_PKG_*` value (`env!`), and
//! nothing else. Anything else in a manifest (dependencies, features,
//! targets, profiles, `[patch]`, the workspace table) runs everything, as
//! before. Pure: both texts come with the workspaces read before and after.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::catalog::Workspace;

/// What a changed manifest or lock file reaches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// It can change any build: everything runs (why).
    Everything(String),
    /// These local packages and what depends on them, each with why.
    Packages(Vec<(String, String)>),
    /// Only package metadata changed: each package's changed `CARGO_PKG_*`
    /// variables, with what changed (the code that reads them runs).
    Env(Vec<(String, Vec<String>, String)>),
    /// Successive changes not yet run, each placed on its own.
    Several(Vec<Verdict>),
}

impl Verdict {
    /// This change, and then `later` (the file changed again before a run
    /// took the first): what either reaches.
    pub fn then(self, later: Verdict) -> Verdict {
        let mut all = match self {
            Verdict::Several(v) => v,
            one => vec![one],
        };
        match later {
            Verdict::Several(v) => all.extend(v),
            one => all.push(one),
        }
        Verdict::Several(all)
    }
}

/// The `package` keys a build cannot see, but through these variables
/// (`env!("CARGO_PKG_VERSION")`).
const METADATA: &[(&str, &[&str])] = &[
    (
        "version",
        &[
            "CARGO_PKG_VERSION",
            "CARGO_PKG_VERSION_MAJOR",
            "CARGO_PKG_VERSION_MINOR",
            "CARGO_PKG_VERSION_PATCH",
            "CARGO_PKG_VERSION_PRE",
        ],
    ),
    ("authors", &["CARGO_PKG_AUTHORS"]),
    ("description", &["CARGO_PKG_DESCRIPTION"]),
    ("homepage", &["CARGO_PKG_HOMEPAGE"]),
    ("repository", &["CARGO_PKG_REPOSITORY"]),
    ("license", &["CARGO_PKG_LICENSE"]),
    ("license-file", &["CARGO_PKG_LICENSE_FILE"]),
    ("readme", &["CARGO_PKG_README"]),
    ("rust-version", &["CARGO_PKG_RUST_VERSION"]),
    // What only publishing and `cargo run` read.
    ("documentation", &[]),
    ("keywords", &[]),
    ("categories", &[]),
    ("publish", &[]),
    ("metadata", &[]),
    ("default-run", &[]),
    ("exclude", &[]),
    ("include", &[]),
];

/// What the change to `path` (a `Cargo.toml` or `Cargo.lock`) from the
/// workspace `before` to `after` reaches.
pub fn judge(path: &Path, before: &Workspace, after: &Workspace) -> Verdict {
    let shown = after.relative(path);
    let (Some(old), Some(new)) = (before.manifests.get(path), after.manifests.get(path)) else {
        return Verdict::Everything(format!("`{shown}` could not be compared with what was read before"));
    };
    if old == new {
        return Verdict::Env(Vec::new());
    }
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    let verdict = match name.as_ref() {
        "Cargo.lock" => lock(old, new),
        "Cargo.toml" => manifest(path, old, new, before, after),
        _ => Err(format!("`{shown}` changed")),
    };
    verdict.unwrap_or_else(Verdict::Everything)
}

/// One `[[package]]` of a lock file: what a build sees of it.
#[derive(PartialEq, Eq)]
struct Locked {
    name: String,
    version: String,
    source: Option<String>,
    checksum: Option<String>,
    /// Its dependencies as the lock names them (`name`, or `name version`
    /// where two versions are locked).
    deps: BTreeSet<String>,
}

impl Locked {
    /// Its dependencies' names.
    fn dep_names(&self) -> BTreeSet<&str> {
        self.deps.iter().map(|d| d.split(' ').next().unwrap_or(d)).collect()
    }

    /// Whether it depends on `name version`.
    fn uses(&self, name: &str, version: &str) -> bool {
        self.deps.iter().any(|d| {
            let mut parts = d.split(' ');
            parts.next() == Some(name) && parts.next().is_none_or(|v| v == version)
        })
    }
}

/// The lock file's packages (keyed by name, version and source; a local
/// package by name alone: its version is its manifest's business) and the
/// rest of the file.
fn locked(text: &str) -> Result<(BTreeMap<String, Locked>, toml::Table), String> {
    let mut table: toml::Table = text.parse().map_err(|e| format!("`Cargo.lock` does not read: {e}"))?;
    let mut out = BTreeMap::new();
    let packages = table.remove("package");
    for p in packages.as_ref().and_then(|p| p.as_array()).into_iter().flatten() {
        let field = |k: &str| p.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        let (Some(name), Some(version)) = (field("name"), field("version")) else {
            return Err("`Cargo.lock` has a package without a name or version".into());
        };
        let source = field("source");
        let deps = p
            .get("dependencies")
            .and_then(|d| d.as_array())
            .into_iter()
            .flatten()
            .filter_map(|d| d.as_str())
            .map(str::to_owned)
            .collect();
        let key = match &source {
            Some(s) => format!("{name} {version} {s}"),
            None => name.clone(),
        };
        out.insert(
            key,
            Locked {
                checksum: field("checksum"),
                name,
                version,
                source,
                deps,
            },
        );
    }
    Ok((out, table))
}

fn lock(old: &str, new: &str) -> Result<Verdict, String> {
    let (old_pkgs, old_rest) = locked(old)?;
    let (new_pkgs, new_rest) = locked(new)?;
    if old_rest != new_rest {
        return Err("`Cargo.lock` changed outside its packages (its format or `[patch]`)".into());
    }
    let mut reached: BTreeMap<String, String> = BTreeMap::new();
    let keys: BTreeSet<&String> = old_pkgs.keys().chain(new_pkgs.keys()).collect();
    for key in keys {
        let (o, n) = (old_pkgs.get(key), new_pkgs.get(key));
        let changed = match (o, n) {
            (Some(o), Some(n)) if o.source.is_none() => o.dep_names() != n.dep_names(),
            (Some(o), Some(n)) => o != n,
            _ => true,
        };
        if !changed {
            continue;
        }
        for (entry, pkgs) in [(o, &old_pkgs), (n, &new_pkgs)] {
            let Some(entry) = entry else { continue };
            let what = match (o, n) {
                (Some(_), None) => "left the lock file",
                (None, Some(_)) => "came into the lock file",
                _ if entry.source.is_none() => "has other resolved dependencies",
                _ => "changed in the lock file",
            };
            let why = format!("`{} {}` {what}", entry.name, entry.version);
            if entry.source.is_none() {
                reached.entry(entry.name.clone()).or_insert(why);
                continue;
            }
            for (local, chain) in local_dependents(pkgs, &entry.name, &entry.version) {
                reached.entry(local).or_insert_with(|| format!("{why}; {chain}"));
            }
        }
    }
    Ok(Verdict::Packages(reached.into_iter().collect()))
}

/// The local packages (no source: members, path dependencies) that depend
/// on `name version` in a lock file, directly or through other locked
/// packages, each with the way there. The lock holds every platform's and
/// kind's dependencies: a superset of any one build's.
fn local_dependents(pkgs: &BTreeMap<String, Locked>, name: &str, version: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    let mut queue = std::collections::VecDeque::from([(name.to_owned(), version.to_owned(), vec![name.to_owned()])]);
    while let Some((n, v, path)) = queue.pop_front() {
        for p in pkgs.values().filter(|p| p.uses(&n, &v)) {
            if !seen.insert((p.name.clone(), p.version.clone())) {
                continue;
            }
            let mut way = vec![p.name.clone()];
            way.extend(path.iter().cloned());
            if p.source.is_none() {
                let between: Vec<String> = way[1..way.len() - 1].iter().map(|w| format!("`{w}`")).collect();
                let why = match between.as_slice() {
                    [] => format!("`{}` depends on it", p.name),
                    b => format!("`{}` depends on it through {}", p.name, b.join(" → ")),
                };
                out.push((p.name.clone(), why));
            } else {
                queue.push_back((p.name.clone(), p.version.clone(), way));
            }
        }
    }
    out
}

/// The `package` keys whose values differ, in order.
fn changed_keys(old: Option<&toml::Value>, new: Option<&toml::Value>) -> Vec<String> {
    let empty = toml::Table::new();
    let o = old.and_then(|v| v.as_table()).unwrap_or(&empty);
    let n = new.and_then(|v| v.as_table()).unwrap_or(&empty);
    let keys: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
    keys.into_iter().filter(|k| o.get(*k) != n.get(*k)).cloned().collect()
}

/// The variables `keys` change, or the first key that is not metadata.
fn variables(keys: &[String], shown: &str) -> Result<Vec<String>, String> {
    let mut vars = Vec::new();
    for k in keys {
        let Some((_, v)) = METADATA.iter().find(|(m, _)| m == k) else {
            return Err(format!("`{shown}`: `{k}` changed"));
        };
        vars.extend(v.iter().map(|s| s.to_string()));
    }
    Ok(vars)
}

/// The tables that name a package's targets, and the `package` keys that
/// decide which targets cargo finds.
const TARGET_TABLES: &[&str] = &["lib", "bin", "test", "bench", "example"];
const TARGET_KEYS: &[&str] = &[
    "autobins",
    "autoexamples",
    "autotests",
    "autobenches",
    "autolib",
    "build",
];

/// The target tables without the names and paths they spell out (which
/// cargo's resolved targets are compared on instead), in a stable order.
fn target_settings(tables: &BTreeMap<String, toml::Value>) -> BTreeMap<String, Vec<String>> {
    let strip = |v: &toml::Value| -> Option<String> {
        let mut t = v.as_table()?.clone();
        t.remove("name");
        t.remove("path");
        // Read by rustdoc's example scraping only.
        t.remove("doc-scrape-examples");
        (!t.is_empty()).then(|| t.to_string())
    };
    tables
        .iter()
        .map(|(k, v)| {
            let mut settings: Vec<String> = match v.as_array() {
                Some(a) => a.iter().filter_map(strip).collect(),
                None => strip(v).into_iter().collect(),
            };
            settings.sort();
            (k.clone(), settings)
        })
        .filter(|(_, s)| !s.is_empty())
        .collect()
}

fn manifest(path: &Path, old: &str, new: &str, before: &Workspace, after: &Workspace) -> Result<Verdict, String> {
    let shown = after.relative(path);
    let parse = |t: &str| {
        t.parse::<toml::Table>()
            .map_err(|e| format!("`{shown}` does not read: {e}"))
    };
    let (mut o, mut n) = (parse(old)?, parse(new)?);
    let (mut op, mut np) = (o.remove("package"), n.remove("package"));
    // The targets, spelled out or found: compared as cargo resolved them.
    let tables = |t: &mut toml::Table, p: &mut Option<toml::Value>| {
        let mut out: BTreeMap<String, toml::Value> = BTreeMap::new();
        for k in TARGET_TABLES {
            if let Some(v) = t.remove(*k) {
                out.insert((*k).to_owned(), v);
            }
        }
        for k in TARGET_KEYS {
            if let Some(v) = p.as_mut().and_then(|p| p.as_table_mut()).and_then(|p| p.remove(*k)) {
                out.insert(format!("package.{k}"), v);
            }
        }
        out
    };
    let (ot, nt) = (tables(&mut o, &mut op), tables(&mut n, &mut np));
    if ot != nt {
        let name = np
            .as_ref()
            .and_then(|p| p.get("name"))
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        let (was, now) = (before.targets_then(), after.target_lists());
        let same_targets = !name.is_empty() && was.get(name).is_some_and(|w| Some(w) == now.get(name));
        if !same_targets || target_settings(&ot) != target_settings(&nt) {
            let first = ot
                .keys()
                .chain(nt.keys())
                .find(|k| ot.get(*k) != nt.get(*k))
                .cloned()
                .unwrap_or_default();
            return Err(format!("`{shown}`: `{first}` changed the package's targets"));
        }
    }
    // Requirements the locked versions still meet: cargo keeps them.
    let lock = after
        .manifests
        .iter()
        .find(|(p, _)| p.file_name().is_some_and(|f| f == "Cargo.lock"))
        .map(|(_, t)| t.as_str());
    settle_requirements(&mut o, &mut n, lock);
    // `[workspace.package]`: the values members inherit.
    let take = |t: &mut toml::Table| {
        t.get_mut("workspace")
            .and_then(|w| w.as_table_mut())
            .and_then(|w| w.remove("package"))
    };
    let (ow, nw) = (take(&mut o), take(&mut n));
    if o != n {
        let keys: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
        let first = keys
            .into_iter()
            .find(|k| o.get(*k) != n.get(*k))
            .cloned()
            .unwrap_or_default();
        return Err(format!("`{shown}`: `[{first}]` changed"));
    }
    let mut out = Vec::new();
    let keys = changed_keys(op.as_ref(), np.as_ref());
    if !keys.is_empty() {
        let name = np.as_ref().and_then(|p| p.get("name")).and_then(|v| v.as_str());
        let Some(name) = name.filter(|n| op.as_ref().and_then(|p| p.get("name")).and_then(|v| v.as_str()) == Some(*n))
        else {
            return Err(format!("`{shown}`: the package's name changed"));
        };
        let vars = variables(&keys, &shown)?;
        out.push((name.to_owned(), vars, format!("`{shown}`: {} changed", list(&keys))));
    }
    let inherited = changed_keys(ow.as_ref(), nw.as_ref());
    if !inherited.is_empty() {
        // Every changed key must be metadata, whoever inherits it.
        variables(&inherited, &format!("{shown} [workspace.package]"))?;
        // The members that take a changed value from the workspace.
        for (member_path, text) in &after.manifests {
            if member_path.file_name().is_none_or(|f| f != "Cargo.toml") {
                continue;
            }
            let Ok(m) = text.parse::<toml::Table>() else { continue };
            let pkg = m.get("package").and_then(|p| p.as_table());
            let Some(name) = pkg.and_then(|p| p.get("name")).and_then(|v| v.as_str()) else {
                continue;
            };
            let inherits = |k: &String| {
                pkg.and_then(|p| p.get(k))
                    .and_then(|v| v.get("workspace"))
                    .and_then(|v| v.as_bool())
                    == Some(true)
            };
            let keys: Vec<String> = inherited.iter().filter(|k| inherits(k)).cloned().collect();
            if !keys.is_empty() {
                out.push((
                    name.to_owned(),
                    variables(&keys, &shown)?,
                    format!("`{shown}`: `workspace.package` {} changed", list(&keys)),
                ));
            }
        }
    }
    Ok(Verdict::Env(out))
}

/// The dependency tables whose requirements the lock resolves.
const DEPENDENCY_TABLES: &[&str] = &["dependencies", "dev-dependencies", "build-dependencies"];

/// Takes as unchanged each dependency of `new` that differs from `old` in
/// its version requirement alone, where every version the lock holds of
/// that package meets the new requirement: cargo keeps what it resolved
/// (a lock file it changes after all is placed as a change of its own).
fn settle_requirements(old: &mut toml::Table, new: &mut toml::Table, lock: Option<&str>) {
    let Some(Ok((packages, _))) = lock.map(locked) else {
        return;
    };
    let versions = |name: &str| -> Vec<semver::Version> {
        packages
            .values()
            .filter(|p| p.name == name)
            .filter_map(|p| semver::Version::parse(&p.version).ok())
            .collect()
    };
    for key in DEPENDENCY_TABLES {
        settle_table(old.get_mut(*key), new.get_mut(*key), &versions);
    }
    if let (Some(ot), Some(nt)) = (
        old.get_mut("target").and_then(|t| t.as_table_mut()),
        new.get_mut("target").and_then(|t| t.as_table_mut()),
    ) {
        for (cfg, nv) in nt.iter_mut() {
            let Some(ov) = ot.get_mut(cfg) else { continue };
            for key in DEPENDENCY_TABLES {
                let o = ov.as_table_mut().and_then(|t| t.get_mut(*key));
                settle_table(o, nv.as_table_mut().and_then(|t| t.get_mut(*key)), &versions);
            }
        }
    }
}

fn settle_table(
    old: Option<&mut toml::Value>,
    new: Option<&mut toml::Value>,
    versions: &dyn Fn(&str) -> Vec<semver::Version>,
) {
    let (Some(old), Some(new)) = (old.and_then(|v| v.as_table_mut()), new.and_then(|v| v.as_table())) else {
        return;
    };
    // The entry without its requirement (`"1.0"` is `{ version = "1.0" }`).
    let rest = |v: &toml::Value| -> Option<toml::Table> {
        match v {
            toml::Value::String(_) => Some(toml::Table::new()),
            toml::Value::Table(t) => {
                let mut t = t.clone();
                t.remove("version");
                Some(t)
            }
            _ => None,
        }
    };
    for (dep, nv) in new {
        let Some(ov) = old.get_mut(dep) else { continue };
        if *ov == *nv || rest(ov).is_none() || rest(ov) != rest(nv) {
            continue;
        }
        let req = nv.as_str().or_else(|| nv.get("version").and_then(|v| v.as_str()));
        let Some(req) = req.and_then(|r| semver::VersionReq::parse(r).ok()) else {
            continue;
        };
        let package = nv.get("package").and_then(|v| v.as_str()).unwrap_or(dep);
        let locked = versions(package);
        if !locked.is_empty() && locked.iter().all(|v| req.matches(v)) {
            *ov = nv.clone();
        }
    }
}

fn list(keys: &[String]) -> String {
    keys.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn ws(files: &[(&str, &str)]) -> Workspace {
        Workspace {
            root: "/w".into(),
            manifests: files.iter().map(|(p, t)| (PathBuf::from(p), t.to_string())).collect(),
            ..Workspace::default()
        }
    }

    const LOCK: &str = r#"version = 4

[[package]]
name = "app"
version = "0.1.0"
dependencies = ["lib"]

[[package]]
name = "itoa"
version = "1.0.10"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "aaaa"

[[package]]
name = "lib"
version = "0.1.0"
dependencies = ["itoa"]

[[package]]
name = "other"
version = "0.1.0"
"#;

    #[test]
    fn a_lock_change_to_one_registry_crate_reaches_its_dependents() {
        let new = LOCK.replace("1.0.10", "1.0.11").replace("aaaa", "bbbb");
        // `other` depends on `lib`'s dependency through a registry crate.
        let through = LOCK.replace(
            "name = \"other\"\nversion = \"0.1.0\"\n",
            "name = \"other\"\nversion = \"0.1.0\"\ndependencies = [\"wrap\"]\n\n[[package]]\nname = \"wrap\"\nversion = \"2.0.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\ndependencies = [\"itoa\"]\n",
        );
        let before = ws(&[("/w/Cargo.lock", &through)]);
        let after = ws(&[("/w/Cargo.lock", &through.replace("1.0.10", "1.0.11"))]);
        let Verdict::Packages(reached) = judge(Path::new("/w/Cargo.lock"), &before, &after) else {
            panic!("packages")
        };
        assert_eq!(reached.len(), 2, "{reached:?}");
        assert_eq!(
            reached[1],
            (
                "other".to_owned(),
                "`itoa 1.0.10` left the lock file; `other` depends on it through `wrap`".to_owned()
            )
        );
        let before = ws(&[("/w/Cargo.lock", LOCK)]);
        let after = ws(&[("/w/Cargo.lock", &new)]);
        let Verdict::Packages(reached) = judge(Path::new("/w/Cargo.lock"), &before, &after) else {
            panic!("packages")
        };
        // `lib` and what depends on it (`app`, through the graph's rdeps).
        let names: Vec<&str> = reached.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(names, ["lib"], "{reached:?}");
        assert_eq!(reached[0].1, "`itoa 1.0.10` left the lock file; `lib` depends on it");
    }

    #[test]
    fn a_members_version_in_the_lock_is_its_manifests_business() {
        let new = LOCK.replace(
            "name = \"other\"\nversion = \"0.1.0\"",
            "name = \"other\"\nversion = \"0.2.0\"",
        );
        let before = ws(&[("/w/Cargo.lock", LOCK)]);
        let after = ws(&[("/w/Cargo.lock", &new)]);
        assert_eq!(
            judge(Path::new("/w/Cargo.lock"), &before, &after),
            Verdict::Packages(Vec::new())
        );
        // A member's own resolved dependencies changing reaches it.
        let new = LOCK.replace(
            "name = \"other\"\nversion = \"0.1.0\"\n",
            "name = \"other\"\nversion = \"0.1.0\"\ndependencies = [\"itoa\"]\n",
        );
        let after = ws(&[("/w/Cargo.lock", &new)]);
        let Verdict::Packages(reached) = judge(Path::new("/w/Cargo.lock"), &before, &after) else {
            panic!("packages")
        };
        assert_eq!(reached.len(), 1);
        assert_eq!(reached[0].0, "other");
    }

    const MANIFEST: &str = "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\ndescription = \"An app\"\n\n[dependencies]\nlib = { path = \"../lib\" }\n";

    fn judge_manifest(new: &str) -> Verdict {
        let before = ws(&[("/w/app/Cargo.toml", MANIFEST)]);
        let after = ws(&[("/w/app/Cargo.toml", new)]);
        judge(Path::new("/w/app/Cargo.toml"), &before, &after)
    }

    #[test]
    fn a_version_bump_reaches_what_reads_the_version_and_nothing_else() {
        let Verdict::Env(env) = judge_manifest(&MANIFEST.replace("0.1.0", "0.2.0")) else {
            panic!("env")
        };
        assert_eq!(env.len(), 1);
        assert_eq!(env[0].0, "app");
        assert!(env[0].1.contains(&"CARGO_PKG_VERSION".to_owned()), "{env:?}");
        let Verdict::Env(env) = judge_manifest(&format!(
            "{MANIFEST}\n[package.metadata.docs.rs]\nall-features = true\n"
        )) else {
            panic!("env")
        };
        // `[package.metadata…]` is a package key: no variable.
        assert!(env.iter().all(|(_, vars, _)| vars.is_empty()), "{env:?}");
    }

    #[test]
    fn a_manifest_that_spells_out_the_targets_cargo_found_changes_nothing() {
        use crate::core::catalog::{Package, Target};
        let with = |targets: &[(&str, &str)]| -> Vec<Package> {
            vec![Package {
                name: "app".into(),
                manifest_dir: "/w/app".into(),
                targets: targets
                    .iter()
                    .map(|(k, p)| Target {
                        name: "app".into(),
                        kinds: vec![(*k).into()],
                        src_path: PathBuf::from("/w/app").join(p),
                    })
                    .collect(),
                ..Package::default()
            }]
        };
        // As `cargo publish` writes it now: the lib named, `autobins` off.
        let spelled = MANIFEST.replace(
            "description = \"An app\"\n",
            "description = \"An app\"\nautobins = false\n\n[lib]\nname = \"app\"\npath = \"src/lib.rs\"\n",
        );
        let judge_with = |new: &str, before: &[(&str, &str)], after: &[(&str, &str)]| {
            let mut b = ws(&[("/w/app/Cargo.toml", MANIFEST)]);
            b.packages = with(before);
            let mut a = ws(&[("/w/app/Cargo.toml", new)]);
            a.packages = with(after);
            judge(Path::new("/w/app/Cargo.toml"), &b, &a)
        };
        let lib = [("lib", "src/lib.rs")];
        assert_eq!(judge_with(&spelled, &lib, &lib), Verdict::Env(Vec::new()));
        // The targets cargo finds changed: everything.
        let moved = spelled.replace("path = \"src/lib.rs\"", "path = \"src/other.rs\"");
        assert!(matches!(
            judge_with(&moved, &lib, &[("lib", "src/other.rs")]),
            Verdict::Everything(_)
        ));
        // A setting beside the name and path: everything.
        let no_tests = spelled.replace("path = \"src/lib.rs\"", "path = \"src/lib.rs\"\ntest = false");
        assert!(matches!(judge_with(&no_tests, &lib, &lib), Verdict::Everything(_)));
    }

    #[test]
    fn a_requirement_the_locked_version_still_meets_changes_nothing() {
        let with = |req: &str| format!("{MANIFEST}itoa = \"{req}\"\n");
        let judged = |old: &str, new: &str| {
            let before = ws(&[("/w/app/Cargo.toml", old), ("/w/Cargo.lock", LOCK)]);
            let after = ws(&[("/w/app/Cargo.toml", new), ("/w/Cargo.lock", LOCK)]);
            judge(Path::new("/w/app/Cargo.toml"), &before, &after)
        };
        // The lock holds itoa 1.0.10: `1.0.1` → `1.0.5` keeps it.
        assert_eq!(judged(&with("1.0.1"), &with("1.0.5")), Verdict::Env(Vec::new()));
        let table = format!("{MANIFEST}itoa = {{ version = \"1.0.9\" }}\n");
        assert_eq!(judged(&with("1.0.1"), &table), Verdict::Env(Vec::new()));
        // One the locked version does not meet: cargo resolves again.
        assert!(matches!(
            judged(&with("1.0.1"), &with("1.0.11")),
            Verdict::Everything(_)
        ));
        // More than the requirement changed: everything, as before.
        let featured = format!("{MANIFEST}itoa = {{ version = \"1.0.5\", features = [\"x\"] }}\n");
        assert!(matches!(judged(&with("1.0.1"), &featured), Verdict::Everything(_)));
        // No lock to hold it: everything.
        let before = ws(&[("/w/app/Cargo.toml", &with("1.0.1"))]);
        let after = ws(&[("/w/app/Cargo.toml", &with("1.0.5"))]);
        assert!(matches!(
            judge(Path::new("/w/app/Cargo.toml"), &before, &after),
            Verdict::Everything(_)
        ));
    }

    #[test]
    fn dependencies_editions_and_features_run_everything() {
        for new in [
            MANIFEST.replace("edition = \"2021\"", "edition = \"2024\""),
            MANIFEST.replace(
                "lib = { path = \"../lib\" }",
                "lib = { path = \"../lib\", features = [\"x\"] }",
            ),
            format!("{MANIFEST}\n[features]\nfast = []\n"),
            format!("{MANIFEST}\n[profile.dev]\nopt-level = 1\n"),
            MANIFEST.replace("name = \"app\"", "name = \"apps\""),
            "not toml [".to_owned(),
        ] {
            assert!(matches!(judge_manifest(&new), Verdict::Everything(_)), "{new}");
        }
    }

    #[test]
    fn an_inherited_version_reaches_the_members_that_take_it() {
        let root = "[workspace]\nmembers = [\"app\", \"other\"]\n\n[workspace.package]\nversion = \"1.0.0\"\n";
        let app = "[package]\nname = \"app\"\nversion.workspace = true\n";
        let other = "[package]\nname = \"other\"\nversion = \"0.3.0\"\n";
        let before = ws(&[
            ("/w/Cargo.toml", root),
            ("/w/app/Cargo.toml", app),
            ("/w/other/Cargo.toml", other),
        ]);
        let bumped = root.replace("1.0.0", "1.1.0");
        let after = ws(&[
            ("/w/Cargo.toml", &bumped),
            ("/w/app/Cargo.toml", app),
            ("/w/other/Cargo.toml", other),
        ]);
        let Verdict::Env(env) = judge(Path::new("/w/Cargo.toml"), &before, &after) else {
            panic!("env")
        };
        assert_eq!(env.iter().map(|(p, _, _)| p.as_str()).collect::<Vec<_>>(), ["app"]);
        let members = bumped.replace("\"other\"]", "\"other\", \"third\"]");
        let after = ws(&[("/w/Cargo.toml", &members)]);
        assert!(matches!(
            judge(Path::new("/w/Cargo.toml"), &before, &after),
            Verdict::Everything(_)
        ));
    }
}
