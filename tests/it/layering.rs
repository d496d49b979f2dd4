//! The core's modules depend on each other one way (domain types, then
//! messages and effects, then `update`): no module reaches back to one
//! that depends on it. A cycle anywhere in `src/core` fails here, naming it.

use std::collections::{BTreeMap, BTreeSet};

/// The core's modules and their texts: a file is a module; a directory is
/// one module (`update/`), its files together.
fn core_modules() -> Vec<(String, Vec<(String, String)>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/core");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            let mut files: Vec<(String, String)> = std::fs::read_dir(&path)
                .unwrap()
                .flatten()
                .map(|e| {
                    let stem = e.path().file_stem().unwrap().to_string_lossy().into_owned();
                    (stem, std::fs::read_to_string(e.path()).unwrap())
                })
                .collect();
            files.sort();
            out.push((name, files));
        } else if name != "mod" {
            out.push((name.clone(), vec![(name, std::fs::read_to_string(&path).unwrap())]));
        }
    }
    out
}

fn core_imports() -> BTreeMap<String, BTreeSet<String>> {
    let mut deps = BTreeMap::new();
    let modules = core_modules();
    let names: BTreeSet<String> = modules.iter().map(|(n, _)| n.clone()).collect();
    for (name, files) in &modules {
        let mut used = BTreeSet::new();
        for (file, text) in files {
            // In a directory module's own files, `super::` is that module
            // (its mod.rs: the core); `crate::core::` is the core anywhere.
            let nested = files.len() > 1 || file != name;
            let prefixes: &[&str] = if nested && file != "mod" {
                &["crate::core::"]
            } else {
                &["super::", "crate::core::"]
            };
            for prefix in prefixes {
                for (i, _) in text.match_indices(prefix) {
                    let rest = &text[i + prefix.len()..];
                    let module: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                        .collect();
                    if names.contains(&module) && module != *name {
                        used.insert(module);
                    }
                }
            }
        }
        deps.insert(name.clone(), used);
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

/// Every path a file names, parsed (syn): in code, in `use` trees
/// (grouped imports flattened: `use std::{fs, thread}` names `std::fs` and
/// `std::thread`), and in macro calls' tokens. Strings and comments are
/// not code, whatever they hold.
fn named_paths(text: &str) -> Vec<String> {
    use syn::visit::Visit;
    #[derive(Default)]
    struct Paths(Vec<String>);
    fn flatten(prefix: &str, tree: &syn::UseTree, out: &mut Vec<String>) {
        let join = |name: String| {
            if prefix.is_empty() {
                name
            } else {
                format!("{prefix}::{name}")
            }
        };
        match tree {
            syn::UseTree::Path(p) => flatten(&join(p.ident.to_string()), &p.tree, out),
            syn::UseTree::Name(n) => out.push(join(n.ident.to_string())),
            syn::UseTree::Rename(r) => out.push(join(r.ident.to_string())),
            syn::UseTree::Glob(_) => out.push(join("*".to_owned())),
            syn::UseTree::Group(g) => g.items.iter().for_each(|t| flatten(prefix, t, out)),
        }
    }
    impl<'a> Visit<'a> for Paths {
        fn visit_path(&mut self, p: &'a syn::Path) {
            let joined: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
            self.0.push(joined.join("::"));
            syn::visit::visit_path(self, p);
        }
        fn visit_item_use(&mut self, u: &'a syn::ItemUse) {
            flatten("", &u.tree, &mut self.0);
        }
        fn visit_macro(&mut self, m: &'a syn::Macro) {
            // A macro's tokens, strings left out.
            let mut code = String::new();
            fn walk(ts: proc_macro2::TokenStream, code: &mut String) {
                for t in ts {
                    match t {
                        proc_macro2::TokenTree::Group(g) => walk(g.stream(), code),
                        proc_macro2::TokenTree::Literal(_) => code.push(' '),
                        other => code.push_str(&other.to_string()),
                    }
                }
            }
            walk(m.tokens.clone(), &mut code);
            self.0.push(code);
            syn::visit::visit_macro(self, m);
        }
    }
    let file = syn::parse_file(text).unwrap();
    let mut paths = Paths::default();
    paths.visit_file(&file);
    paths.0
}

#[test]
fn the_core_names_no_outside_crate() {
    let forbidden = [
        "tokio",
        "crossterm",
        "ratatui",
        "notify",
        "nextest_metadata",
        "rusqlite",
        "std::process",
        "std::fs",
        "std::env",
        "std::thread",
        "std::net",
        "SystemTime",
        "Instant::now",
    ];
    let mut read = 0;
    for (module, files) in core_modules() {
        for (file, text) in files {
            read += 1;
            for path in named_paths(&text) {
                for f in forbidden {
                    let hit = path == f
                        || path.starts_with(&format!("{f}::"))
                        || path.contains(&format!("::{f}"))
                        || (f.contains("::") && path.contains(f));
                    assert!(!hit, "core/{module} ({file}) names {f} (in `{path}`)");
                }
            }
        }
    }
    assert!(read > 15, "the core's files were read");
}

/// The check above sees what a line-based one missed.
#[test]
fn the_layering_check_reads_grouped_imports_and_code_beside_strings() {
    let names = |t: &str| named_paths(t);
    assert!(names("use std::{fs, thread::spawn};").contains(&"std::fs".to_owned()));
    assert!(names("use std::{fs, thread::spawn};").contains(&"std::thread::spawn".to_owned()));
    let beside = names(r#"fn f() { let _ = ("x", std::env::var("HOME")); }"#);
    assert!(beside.iter().any(|p| p == "std::env::var"), "{beside:?}");
    let quoted = names(r#"fn f() -> &'static str { "std::fs::read" } // std::process"#);
    assert!(
        !quoted.iter().any(|p| p.contains("std")),
        "strings and comments are not code: {quoted:?}"
    );
    let in_macro = names(r#"fn f() { println!("{}", std::env::args().count()); }"#);
    assert!(in_macro.iter().any(|p| p.contains("std::env")), "{in_macro:?}");
}
