//! Workspace discovery through `cargo metadata`: members, their directories,
//! targets with source paths, and the dependency graph between members.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

use crate::core::catalog::{Package, Target, Workspace};

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
}

#[derive(Deserialize)]
struct RawPackage {
    id: String,
    name: String,
    manifest_path: PathBuf,
    #[serde(default)]
    dependencies: Vec<RawDependency>,
    #[serde(default)]
    targets: Vec<RawTarget>,
}

#[derive(Deserialize)]
struct RawDependency {
    name: String,
    path: Option<PathBuf>,
}

#[derive(Deserialize)]
struct RawTarget {
    name: String,
    kind: Vec<String>,
    src_path: PathBuf,
}

/// Runs `cargo metadata` in `dir` (any directory inside a workspace).
pub fn discover(dir: &Path) -> Result<Workspace, WorkspaceError> {
    if !dir.exists() {
        return Err(WorkspaceError::Missing(dir.to_owned()));
    }
    let output = std::process::Command::new(cargo())
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(WorkspaceError::Cargo)?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        if stderr.contains("could not find `Cargo.toml`") {
            return Err(WorkspaceError::NotAWorkspace(dir.to_owned()));
        }
        return Err(WorkspaceError::Metadata(stderr));
    }
    parse_metadata(&String::from_utf8_lossy(&output.stdout))
}

/// Parses `cargo metadata --no-deps` JSON.
pub fn parse_metadata(json: &str) -> Result<Workspace, WorkspaceError> {
    let raw: RawMetadata = serde_json::from_str(json).map_err(WorkspaceError::Parse)?;
    let member_names: Vec<&str> = raw
        .packages
        .iter()
        .filter(|p| raw.workspace_members.contains(&p.id))
        .map(|p| p.name.as_str())
        .collect();
    let mut packages: Vec<Package> = raw
        .packages
        .iter()
        .filter(|p| raw.workspace_members.contains(&p.id))
        .map(|p| {
            let mut deps: Vec<String> = p
                .dependencies
                .iter()
                .filter(|d| d.path.is_some() && member_names.contains(&d.name.as_str()) && d.name != p.name)
                .map(|d| d.name.clone())
                .collect();
            deps.sort();
            deps.dedup();
            Package {
                name: p.name.clone(),
                manifest_dir: p.manifest_path.parent().map(Path::to_path_buf).unwrap_or_default(),
                deps,
                targets: p
                    .targets
                    .iter()
                    .map(|t| Target {
                        name: t.name.clone(),
                        kinds: t.kind.clone(),
                        src_path: t.src_path.clone(),
                    })
                    .collect(),
            }
        })
        .collect();
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Workspace {
        root: raw.workspace_root,
        target_dir: raw.target_directory,
        packages,
    })
}

/// The cargo that invoked us (when run as `cargo vigil`), else `cargo`.
pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}
