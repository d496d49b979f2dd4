//! The core's modules depend on each other one way (domain types, then
//! messages and effects, then `update`): no module reaches back to one
//! that depends on it. A cycle anywhere in `src/core` fails here, naming it.

use std::collections::{BTreeMap, BTreeSet};

fn core_imports() -> BTreeMap<String, BTreeSet<String>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/core");
    let mut deps = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if name == "mod" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let mut used = BTreeSet::new();
        for (i, _) in text.match_indices("super::") {
            let rest = &text[i + "super::".len()..];
            let module: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !module.is_empty() && module != name {
                used.insert(module);
            }
        }
        deps.insert(name, used);
    }
    deps
}

/// A cycle through `start`, if there is one.
fn cycle_from(start: &str, deps: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn walk(
        at: &str,
        start: &str,
        deps: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in deps.get(at).into_iter().flatten() {
            if next == start {
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(next, start, deps, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.to_owned()];
    walk(start, start, deps, &mut path, &mut BTreeSet::new()).then_some(path)
}

#[test]
fn core_modules_depend_on_each_other_one_way() {
    let deps = core_imports();
    assert!(deps.len() > 15, "the core's modules were read: {deps:?}");
    for module in deps.keys() {
        if let Some(cycle) = cycle_from(module, &deps) {
            panic!("an import cycle in src/core: {} → {module}", cycle.join(" → "));
        }
    }
}

#[test]
fn the_core_names_no_outside_crate() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/core");
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap();
        // Code, not the strings it looks for (hygiene knows `#[tokio::test]`).
        let code: String = text
            .lines()
            .filter(|l| !l.contains('"') && !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for forbidden in [
            "tokio::",
            "crossterm::",
            "ratatui::",
            "notify::",
            "nextest_metadata::",
            "std::process",
            "std::fs",
            "Instant::now",
            "rusqlite",
        ] {
            assert!(!code.contains(forbidden), "{} uses {forbidden}", entry.path().display());
        }
    }
}
