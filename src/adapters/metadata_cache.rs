//! `cargo metadata --no-deps` kept under `target/vigil/metadata.json` and
//! used while every file it was made from is unchanged: the manifests and
//! lockfile, the directories cargo discovers members and targets in (a new
//! crate directory or `tests/x.rs` changes their modification time), cargo's
//! config files, and the variables that move the target directory. A stale
//! or unreadable cache is no cache: cargo is asked as before.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use crate::core::catalog::Workspace;

const VARS: &[&str] = &["CARGO_TARGET_DIR", "CARGO_BUILD_TARGET_DIR", "CARGO_HOME"];

#[derive(Serialize, Deserialize)]
struct Cached {
    dir: PathBuf,
    vars: Vec<Option<String>>,
    /// Each file or directory with its (modification time in ns, length),
    /// `None` when it did not exist.
    stamps: Vec<(PathBuf, Option<(u128, u64)>)>,
    json: String,
}

fn stamp(path: &Path) -> Option<(u128, u64)> {
    let m = std::fs::metadata(path).ok()?;
    let t = m.modified().ok()?.duration_since(UNIX_EPOCH).ok()?.as_nanos();
    Some((t, m.len()))
}

fn vars() -> Vec<Option<String>> {
    VARS.iter().map(|v| std::env::var(v).ok()).collect()
}

/// Where the cache for `dir` would be: in the target directory of the
/// workspace that holds it, as far as can be told without cargo.
fn location(dir: &Path) -> Option<PathBuf> {
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        return Some(PathBuf::from(t).join("vigil/metadata.json"));
    }
    let mut nearest = None;
    for a in dir.ancestors() {
        let manifest = a.join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        nearest.get_or_insert(a.to_path_buf());
        if text.lines().any(|l| l.trim() == "[workspace]") {
            return Some(a.join("target/vigil/metadata.json"));
        }
    }
    nearest.map(|n| n.join("target/vigil/metadata.json"))
}

/// The kept metadata for `dir`, if it still holds.
pub fn load(dir: &Path) -> Option<String> {
    let dir = std::fs::canonicalize(dir).ok()?;
    let text = std::fs::read_to_string(location(&dir)?).ok()?;
    let cached: Cached = serde_json::from_str(&text).ok()?;
    let holds = cached.dir == dir && cached.vars == vars() && cached.stamps.iter().all(|(p, s)| stamp(p) == *s);
    holds.then_some(cached.json)
}

/// Keeps `json` (the metadata `ws` was read from) for `dir`.
pub fn save(dir: &Path, ws: &Workspace, json: &str) {
    let Ok(dir) = std::fs::canonicalize(dir) else { return };
    if location(&dir) != Some(ws.target_dir.join("vigil/metadata.json")) {
        // A target directory set elsewhere (a cargo config): it would never
        // be found again without asking cargo.
        return;
    }
    let mut paths: Vec<PathBuf> = vec![ws.root.join("Cargo.toml"), ws.root.join("Cargo.lock"), ws.root.clone()];
    for p in &ws.packages {
        let d = &p.manifest_dir;
        paths.push(d.join("Cargo.toml"));
        if let Some(parent) = d.parent() {
            paths.push(parent.to_path_buf());
        }
        for sub in ["", "src", "src/bin", "tests", "examples", "benches"] {
            paths.push(d.join(sub));
        }
    }
    for a in dir.ancestors() {
        paths.push(a.join(".cargo/config.toml"));
        paths.push(a.join(".cargo/config"));
    }
    if let Some(home) = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
    {
        paths.push(home.join("config.toml"));
        paths.push(home.join("config"));
    }
    paths.sort();
    paths.dedup();
    let cached = Cached {
        dir,
        vars: vars(),
        stamps: paths.into_iter().map(|p| (p.clone(), stamp(&p))).collect(),
        json: json.to_owned(),
    };
    let dest = ws.target_dir.join("vigil/metadata.json");
    let Ok(text) = serde_json::to_string(&cached) else {
        return;
    };
    let _ = super::keep::write_atomic(&dest, text.as_bytes());
}
