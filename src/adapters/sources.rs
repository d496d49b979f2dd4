//! Reads the workspace's Rust sources for the hygiene checks and each
//! test's record.

use ignore::WalkBuilder;

use crate::core::check::SourceRecord;
use crate::core::hygiene::{check, HygieneRules, HygieneWarning};
use crate::core::testmap::{TestId, TestKey};
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

/// Each test function of the workspace's packages, by the test it is
/// (binary id and name, as nextest names them), with its record: its
/// assertions, markers and fixtures, read with a real parser.
pub fn test_records(ws: &Workspace) -> Vec<(TestKey, SourceRecord)> {
    let mut out = Vec::new();
    for pkg in &ws.packages {
        let ids: Vec<String> = pkg
            .targets
            .iter()
            .flat_map(|t| {
                t.kinds
                    .iter()
                    .map(|k| crate::adapters::nextest_json::binary_id(&pkg.name, &t.name, k))
            })
            .collect();
        for (target, site) in crate::lsp::sites::package_tests(&pkg.manifest_dir) {
            for id in ids.iter().filter(|id| target.holds(&pkg.name, id)) {
                out.push((
                    TestId::new(id.as_str(), site.name.as_str()),
                    SourceRecord {
                        assertions: site.assertions,
                        markers: site.markers.clone(),
                        fixtures: site.fixtures.clone(),
                    },
                ));
            }
        }
    }
    out
}
