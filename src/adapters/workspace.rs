//! Workspace discovery through `cargo metadata`: members, their directories,
//! targets with source paths, path dependencies outside the members, and
//! cargo's resolved dependency graph (the one nextest's `rdeps()` follows).

use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

use std::collections::HashMap;

use crate::core::catalog::{Package, Target, Workspace};
use crate::core::graph::{DepKind, Edge, Graph, Node};

#[derive(Debug, Error)]
pub enum WorkspaceError {
    #[error("{0} does not exist")]
    Missing(PathBuf),
    #[error(
        "{0} is not inside a Cargo workspace (no Cargo.toml there or in any parent directory)\n\
         hint: run vigil from your workspace, pass its path (`vigil run PATH`), or try `vigil --demo`"
    )]
    NotAWorkspace(PathBuf),
    #[error("failed to run cargo: {0}\nhint: is cargo installed and on PATH?")]
    Cargo(std::io::Error),
    #[error("cargo metadata failed:\n{0}")]
    Metadata(String),
    #[error("failed to parse cargo metadata output: {0}")]
    Parse(serde_json::Error),
}

#[derive(Deserialize)]
struct RawMetadata {
    packages: Vec<RawPackage>,
    workspace_members: Vec<String>,
    workspace_root: PathBuf,
    target_directory: PathBuf,
    /// Absent with `--no-deps`.
    #[serde(default)]
    resolve: Option<RawResolve>,
}

#[derive(Deserialize)]
struct RawPackage {
    id: String,
    name: String,
    #[serde(default)]
    version: String,
    manifest_path: PathBuf,
    /// `None` for path packages.
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    dependencies: Vec<RawDependency>,
    #[serde(default)]
    targets: Vec<RawTarget>,
}

#[derive(Deserialize)]
struct RawDependency {
    name: String,
    #[serde(default)]
    source: Option<String>,
    path: Option<PathBuf>,
}

#[derive(Deserialize)]
struct RawTarget {
    name: String,
    kind: Vec<String>,
    src_path: PathBuf,
}

#[derive(Deserialize)]
struct RawResolve {
    nodes: Vec<RawNode>,
}

#[derive(Deserialize)]
struct RawNode {
    id: String,
    #[serde(default)]
    deps: Vec<RawNodeDep>,
}

#[derive(Deserialize)]
struct RawNodeDep {
    name: String,
    pkg: String,
    #[serde(default)]
    dep_kinds: Vec<RawDepKind>,
}

#[derive(Deserialize)]
struct RawDepKind {
    kind: Option<String>,
    target: Option<String>,
}

/// Runs `cargo metadata` in `dir` (any directory inside a workspace): the
/// full resolve, which cargo reads from `Cargo.lock` without the network
/// when the lockfile is current.
pub fn discover(dir: &Path) -> Result<Workspace, WorkspaceError> {
    if !dir.exists() {
        return Err(WorkspaceError::Missing(dir.to_owned()));
    }
    let metadata = |extra: &[&str]| -> Result<String, WorkspaceError> {
        let output = super::process::tied(cargo())
            .args(["metadata", "--format-version", "1"])
            .args(extra)
            .current_dir(dir)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(WorkspaceError::Cargo)?;
        checked(dir, output)
    };
    let mut ws = match metadata(&[]) {
        Ok(json) => parse_metadata(&json)?,
        Err(WorkspaceError::Metadata(why)) => {
            // No resolve (offline with crates missing, a registry down):
            // the members and their path dependencies still work.
            let mut ws = parse_metadata(&metadata(&["--no-deps"])?)?;
            let first = why.lines().find(|l| l.contains("error")).unwrap_or(why.as_str());
            ws.resolve_error = Some(format!(
                "cargo could not resolve the dependency graph ({first}); selection follows path dependencies \
                 between members only until it can"
            ));
            ws
        }
        Err(e) => return Err(e),
    };
    let root_manifest = std::fs::read_to_string(ws.root.join("Cargo.toml")).unwrap_or_default();
    name_overrides(&mut ws, &root_manifest);
    read_file_lists(&mut ws);
    Ok(ws)
}

/// Keeps the manifests' and lock file's texts as this workspace read them
/// (`manifests.json` in the state directory): the next `vigil run
/// --changed` compares a changed manifest with them. Best effort: without
/// it, a changed manifest runs everything.
pub fn keep_manifests(ws: &Workspace) {
    if ws.manifests.is_empty() {
        return;
    }
    let dir = super::state_dir(&ws.target_dir);
    let texts: std::collections::BTreeMap<String, &String> =
        ws.manifests.iter().map(|(p, t)| (p.display().to_string(), t)).collect();
    let kept = serde_json::json!({ "texts": texts, "targets": ws.target_lists() });
    if let Ok(json) = serde_json::to_string(&kept) {
        let _ = std::fs::create_dir_all(&dir)
            .and_then(|_| super::keep::write_atomic(&dir.join("manifests.json"), json.as_bytes()));
    }
}

/// What `keep_manifests` kept last: the texts (empty when there are none)
/// and the targets cargo found then.
pub fn kept_manifests(ws: &Workspace) -> Kept {
    #[derive(Deserialize, Default)]
    struct Raw {
        texts: std::collections::BTreeMap<PathBuf, String>,
        targets: Option<std::collections::BTreeMap<String, Vec<String>>>,
    }
    let path = super::state_dir(&ws.target_dir).join("manifests.json");
    let raw: Raw = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    (raw.texts, raw.targets)
}

/// Kept manifests' texts, and the targets cargo found with them.
pub type Kept = (
    std::collections::BTreeMap<PathBuf, String>,
    Option<std::collections::BTreeMap<String, Vec<String>>>,
);

/// The manifests' texts at git revision `rev` (those git has there).
pub fn manifests_at(ws: &Workspace, rev: &str) -> std::collections::BTreeMap<PathBuf, String> {
    let mut out = std::collections::BTreeMap::new();
    for path in ws.manifests.keys() {
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
            continue;
        };
        let spec = format!("{rev}:./{}", name.to_string_lossy());
        if let Ok(text) = super::git::git(dir, &["show", &spec]) {
            out.insert(path.clone(), text);
        }
    }
    out
}

/// Each local package's `package.include` / `package.exclude`, read from
/// its manifest (cargo metadata does not carry them). A manifest that does
/// not read leaves the package holding every file under it. The texts of
/// the manifests and the lock file are kept with the workspace.
fn read_file_lists(ws: &mut Workspace) {
    for name in ["Cargo.toml", "Cargo.lock"] {
        let path = ws.root.join(name);
        if let Ok(text) = std::fs::read_to_string(&path) {
            ws.manifests.insert(path, text);
        }
    }
    for p in ws.packages.iter_mut().chain(ws.path_deps.iter_mut()) {
        let path = p.manifest_dir.join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        ws.manifests.insert(path, text.clone());
        let Ok(manifest) = text.parse::<toml::Table>() else {
            continue;
        };
        let list = |key: &str| -> Vec<String> {
            manifest
                .get("package")
                .and_then(|pkg| pkg.get(key))
                .and_then(|v| v.as_array())
                .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
                .unwrap_or_default()
        };
        p.include = list("include");
        p.exclude = list("exclude");
    }
}

/// The members only (`cargo metadata --no-deps`, a third of the full
/// resolve's time): enough to run everything, or a filterset. The graph is
/// marked pending; `discover` reads it.
pub fn discover_members(dir: &Path) -> Result<Workspace, WorkspaceError> {
    if !dir.exists() {
        return Err(WorkspaceError::Missing(dir.to_owned()));
    }
    if let Some(json) = super::metadata_cache::load(dir) {
        if let Ok(mut ws) = parse_metadata(&json) {
            ws.graph_pending = true;
            read_file_lists(&mut ws);
            return Ok(ws);
        }
    }
    let output = super::process::tied(cargo())
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(WorkspaceError::Cargo)?;
    let json = checked(dir, output)?;
    let mut ws = parse_metadata(&json)?;
    super::metadata_cache::save(dir, &ws, &json);
    ws.graph_pending = true;
    read_file_lists(&mut ws);
    Ok(ws)
}

fn checked(dir: &Path, output: std::process::Output) -> Result<String, WorkspaceError> {
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        if stderr.contains("could not find `Cargo.toml`") {
            return Err(WorkspaceError::NotAWorkspace(dir.to_owned()));
        }
        return Err(WorkspaceError::Metadata(stderr));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Parses `cargo metadata` JSON (with its resolve, or `--no-deps`).
pub fn parse_metadata(json: &str) -> Result<Workspace, WorkspaceError> {
    let raw: RawMetadata = serde_json::from_str(json).map_err(WorkspaceError::Parse)?;
    let is_member = |p: &RawPackage| raw.workspace_members.contains(&p.id);
    let package = |p: &RawPackage| Package {
        include: Vec::new(),
        exclude: Vec::new(),
        name: p.name.clone(),
        manifest_dir: p.manifest_path.parent().map(Path::to_path_buf).unwrap_or_default(),
        deps: Vec::new(),
        targets: p
            .targets
            .iter()
            .map(|t| Target {
                name: t.name.clone(),
                kinds: t.kind.clone(),
                src_path: t.src_path.clone(),
            })
            .collect(),
    };
    let graph = raw.resolve.as_ref().map(|r| graph(&raw, r)).unwrap_or_default();
    let member_names: Vec<&str> = raw
        .packages
        .iter()
        .filter(|p| is_member(p))
        .map(|p| p.name.as_str())
        .collect();
    let mut packages: Vec<Package> = raw
        .packages
        .iter()
        .filter(|p| is_member(p))
        .map(|p| {
            let mut deps: Vec<String> = match graph.local(&p.name) {
                // Members it depends on directly, by any kind of dependency.
                Some(i) if !graph.is_empty() => graph.nodes[i]
                    .deps
                    .iter()
                    .map(|e| &graph.nodes[e.to])
                    .filter(|n| n.member)
                    .map(|n| n.name.clone())
                    .collect(),
                // `--no-deps`: only the declared path dependencies are known.
                _ => p
                    .dependencies
                    .iter()
                    .filter(|d| d.path.is_some() && member_names.contains(&d.name.as_str()))
                    .map(|d| d.name.clone())
                    .collect(),
            };
            deps.retain(|d| *d != p.name);
            deps.sort();
            deps.dedup();
            Package { deps, ..package(p) }
        })
        .collect();
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    // Path dependencies that are not members (`../vendored/x`, excluded
    // members): their files are inputs too.
    let mut path_deps: Vec<Package> = raw
        .packages
        .iter()
        .filter(|p| !is_member(p) && p.source.is_none())
        .map(package)
        .collect();
    path_deps.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Workspace {
        root: raw.workspace_root,
        target_dir: raw.target_directory,
        packages,
        path_deps,
        graph,
        resolve_error: None,
        graph_pending: false,
        manifests: Default::default(),
        targets_before: None,
    })
}

/// The resolved graph: every package of the resolve, with its edges.
fn graph(raw: &RawMetadata, resolve: &RawResolve) -> Graph {
    let index: HashMap<&str, usize> = raw
        .packages
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id.as_str(), i))
        .collect();
    let mut nodes: Vec<Node> = raw
        .packages
        .iter()
        .map(|p| Node {
            name: p.name.clone(),
            version: p.version.clone(),
            member: raw.workspace_members.contains(&p.id),
            dir: p
                .source
                .is_none()
                .then(|| p.manifest_path.parent().map(Path::to_path_buf).unwrap_or_default()),
            deps: Vec::new(),
        })
        .collect();
    for n in &resolve.nodes {
        let Some(&from) = index.get(n.id.as_str()) else {
            continue;
        };
        let declared = &raw.packages[from].dependencies;
        for d in &n.deps {
            let Some(&to) = index.get(d.pkg.as_str()) else { continue };
            let target = &raw.packages[to];
            let kinds = d
                .dep_kinds
                .iter()
                .map(|k| {
                    let kind = match k.kind.as_deref() {
                        Some("dev") => DepKind::Dev,
                        Some("build") => DepKind::Build,
                        _ => DepKind::Normal,
                    };
                    (kind, k.target.clone())
                })
                .collect();
            // Asked for from a registry or git, resolved to a path package:
            // an override put it there. Which one is read from the root
            // manifest by `name_overrides`.
            let patched = (target.source.is_none()
                && declared
                    .iter()
                    .any(|dd| dd.name == target.name && dd.path.is_none() && dd.source.is_some()))
            .then(|| "[patch]".to_owned());
            let rename = (d.name != target.name.replace('-', "_")).then(|| d.name.clone());
            nodes[from].deps.push(Edge {
                to,
                kinds,
                rename,
                patched,
            });
        }
    }
    Graph::new(nodes)
}

/// Names the override section of each patched edge after the root manifest
/// (`[patch.crates-io]`, `[replace]`).
fn name_overrides(ws: &mut Workspace, root_manifest: &str) {
    let Ok(manifest) = root_manifest.parse::<toml::Table>() else {
        return;
    };
    let section = |name: &str| -> Option<String> {
        if let Some(patch) = manifest.get("patch").and_then(|p| p.as_table()) {
            for (registry, table) in patch {
                if table.as_table().is_some_and(|t| t.contains_key(name)) {
                    return Some(format!("[patch.{registry}]"));
                }
            }
        }
        let replaced = manifest
            .get("replace")
            .and_then(|r| r.as_table())
            .is_some_and(|t| t.keys().any(|k| k.split(':').next() == Some(name)));
        replaced.then(|| "[replace]".to_owned())
    };
    let names: Vec<String> = ws.graph.nodes.iter().map(|n| n.name.clone()).collect();
    let mut nodes = std::mem::take(&mut ws.graph.nodes);
    for n in &mut nodes {
        for e in n.deps.iter_mut().filter(|e| e.patched.is_some()) {
            if let Some(s) = section(&names[e.to]) {
                e.patched = Some(s);
            }
        }
    }
    ws.graph = Graph::new(nodes);
}

/// The cargo that invoked us (when run as `cargo vigil`), else `cargo`.
pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}
