//! Reads the workspace's Rust sources for the hygiene checks.

use ignore::WalkBuilder;

use crate::core::hygiene::{check, HygieneRules, HygieneWarning};
use crate::core::Workspace;

pub fn hygiene(ws: &Workspace, rules: &HygieneRules) -> Vec<HygieneWarning> {
    let mut out = Vec::new();
    for pkg in &ws.packages {
        let target = ws.target_dir.clone();
        let walker = WalkBuilder::new(&pkg.manifest_dir)
            .require_git(false)
            .filter_entry(move |e| e.path() != target)
            .build();
        let mut files: Vec<_> = walker
            .flatten()
            .map(|e| e.into_path())
            .filter(|p| p.extension().is_some_and(|x| x == "rs"))
            .collect();
        files.sort();
        for path in files {
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let shown = path.strip_prefix(&ws.root).unwrap_or(&path).display().to_string();
            out.extend(check(rules, &shown, &text));
        }
    }
    out
}
