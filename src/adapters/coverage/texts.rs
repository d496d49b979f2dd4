//! The texts a change set is placed against: the changed files now, the
//! versions the maps were measured on, and the lines changed since a
//! revision or since the session began (patch coverage).

use super::*;

/// The changed files' texts now, and the kept texts of the versions maps
/// were measured on (`sources/<hash>` in the coverage state).
pub(crate) fn read_texts(
    ws: &Workspace,
    files: &[PathBuf],
    versions: &[(String, String)],
    session: Option<&BTreeMap<String, String>>,
) -> crate::core::select_tests::Texts {
    /// Larger files are not source code a map can place edits in.
    const LIMIT: u64 = 4 << 20;
    let read = |p: &Path| {
        let small = std::fs::metadata(p).is_ok_and(|m| m.len() <= LIMIT);
        small.then(|| std::fs::read_to_string(p).ok()).flatten()
    };
    let sources = crate::adapters::state_dir(&ws.target_dir)
        .join("coverage")
        .join("sources");
    let current: BTreeMap<String, Option<String>> = files.iter().map(|f| (ws.relative(f), read(f))).collect();
    // A changed Rust file no map was measured on: its text as the session
    // began (kept), to tell a change of comments or docs from code.
    let mut baselines: HashMap<String, String> = HashMap::new();
    for path in current.keys().filter(|p| p.ends_with(".rs")) {
        if versions.iter().any(|(p, _)| p == path) {
            continue;
        }
        if let Some(h) = session.and_then(|s| s.get(path)) {
            baselines.insert(path.clone(), h.clone());
        }
    }
    let mut kept: HashMap<String, String> = HashMap::new();
    for h in baselines.values() {
        if let Some(t) = read(&sources.join(h)) {
            kept.insert(h.clone(), t);
        }
    }
    for (_, h) in versions {
        if !kept.contains_key(h) {
            if let Some(t) = read(&sources.join(h)) {
                kept.insert(h.clone(), t);
            }
        }
    }
    // Each Rust file's change from each version its maps were measured
    // on, placed here rather than on the loop: a branch switch's thousand
    // files parsed on every core.
    let mut pairs: Vec<(&String, &String, &str, &str)> = Vec::new();
    for (path, h) in versions.iter().map(|(p, h)| (p, h)).chain(baselines.iter()) {
        if !path.ends_with(".rs") || pairs.iter().any(|p| p.0 == path && p.1 == h) {
            continue;
        }
        if let (Some(Some(now)), Some(old)) = (current.get(path), kept.get(h)) {
            if crate::core::testmap::content_hash(now.as_bytes()) != *h {
                pairs.push((path, h, old, now));
            }
        }
    }
    let placed = attribute_all(&pairs.iter().map(|p| (p.2, p.3)).collect::<Vec<_>>());
    let attributions: HashMap<(String, String), crate::core::syntax::Attribution> = pairs
        .iter()
        .zip(placed)
        .map(|(p, a)| ((p.0.clone(), p.1.clone()), a))
        .collect();
    let mut names: Vec<(String, bool)> = Vec::new();
    let mut macros: Vec<String> = Vec::new();
    for a in attributions.values() {
        if let crate::core::syntax::Attribution::Code { values, calls, .. } = a {
            for v in values {
                add_name(&mut names, &v.name, v.public);
            }
            for c in calls {
                if !macros.contains(&c.macro_name) {
                    macros.push(c.macro_name.clone());
                }
            }
        }
    }
    let embedded: Vec<&PathBuf> = files
        .iter()
        .filter(|f| f.extension().is_none_or(|e| e != "rs") && f.is_file() && !f.starts_with(&ws.target_dir))
        .collect();
    let sources = if names.is_empty() && embedded.is_empty() && macros.is_empty() {
        Vec::new()
    } else {
        workspace_sources(ws)
    };
    let mut include_sites: HashMap<String, Result<crate::core::select_tests::Embedded, String>> = HashMap::new();
    let mut through: Vec<(String, String)> = Vec::new();
    for f in embedded {
        let (found, values) = include_sites_of(ws, &sources, f);
        for (name, public) in values {
            add_name(&mut names, &name, public);
            through.push((ws.relative(f), name));
        }
        include_sites.insert(ws.relative(f), found);
    }
    let value_sites = value_sites(ws, &sources, &names);
    // A file embedded in a `const`: the bodies that read that `const`.
    for (file, name) in through {
        let Some(Ok(embedded)) = include_sites.get_mut(&file) else {
            continue;
        };
        match value_sites.get(&name) {
            Some(Ok(more)) => embedded.sites.extend(more.iter().cloned()),
            Some(Err(e)) => {
                let e = format!("it is embedded in `{name}`, and {e}");
                include_sites.insert(file, Err(e));
            }
            None => {}
        }
    }
    // A macro defined in the workspace: whether each definition of it
    // defines one test (a macro from a dependency is not looked into).
    let test_macros = macros
        .into_iter()
        .map(|m| {
            let mut seen = false;
            let mut all = true;
            for (p, text) in &sources {
                if p.extension().is_none_or(|e| e != "rs")
                    || !text.contains("macro_rules")
                    || !text.contains(m.as_str())
                {
                    continue;
                }
                if let Some(one) = crate::core::syntax::defines_one_test(text, &m) {
                    seen = true;
                    all &= one;
                }
            }
            (m, seen && all)
        })
        .collect();
    crate::core::select_tests::Texts {
        current,
        versions: kept,
        attributions,
        value_sites,
        include_sites,
        test_macros,
        baselines,
    }
}

fn add_name(names: &mut Vec<(String, bool)>, name: &str, public: bool) {
    match names.iter_mut().find(|(n, _)| n == name) {
        Some((_, p)) => *p |= public,
        None => names.push((name.to_owned(), public)),
    }
}

/// The workspace's Rust sources and Markdown files (outside `target/` and
/// `.git/`, ignored or not), with their texts.
fn workspace_sources(ws: &Workspace) -> Vec<(PathBuf, String)> {
    // Every file, ignored ones too (a generated source may be compiled
    // though git ignores it); not the build's, not git's.
    let target = ws.target_dir.clone();
    let walk = ignore::WalkBuilder::new(&ws.root)
        .standard_filters(false)
        .filter_entry(move |e| e.path() != target && e.file_name() != ".git")
        .build();
    walk.flatten()
        .filter(|e| {
            let p = e.path();
            let ext = p.extension().and_then(|x| x.to_str()).unwrap_or_default();
            matches!(ext, "rs" | "md") && !p.starts_with(&ws.target_dir) && e.file_type().is_some_and(|t| t.is_file())
        })
        .filter_map(|e| Some((e.path().to_path_buf(), std::fs::read_to_string(e.path()).ok()?)))
        .collect()
}

/// Where the workspace's sources embed `file` (`include_str!`,
/// `include_bytes!`): the function bodies that do, and the `const`s and
/// `static`s whose initializers do (their readers decide). `Err` when one
/// sits elsewhere, in a build script or a proc-macro crate, or when no
/// include names it (then something else reads it as the crate compiles).
fn include_sites_of(
    ws: &Workspace,
    sources: &[(PathBuf, String)],
    file: &Path,
) -> (Result<crate::core::select_tests::Embedded, String>, Vec<(String, bool)>) {
    use crate::core::syntax::IncludePlace;
    let Some(name) = file.file_name().and_then(|n| n.to_str()) else {
        return (Err("its name is not text".into()), Vec::new());
    };
    let mut sites = Vec::new();
    let mut values = Vec::new();
    let mut by: Vec<String> = Vec::new();
    for (p, text) in sources {
        if p.extension().is_none_or(|e| e != "rs")
            || !text.contains(name)
            || !(text.contains("include_str") || text.contains("include_bytes"))
        {
            continue;
        }
        let rel = ws.relative(p);
        let found = match crate::core::syntax::includes(text) {
            Ok(found) => found,
            Err(e) => return (Err(format!("`{rel}`: {e}")), Vec::new()),
        };
        let dir = p.parent().unwrap_or(&ws.root);
        for (lit, place) in found {
            if crate::core::inputs::normalize(&dir.join(&lit)) != file {
                continue;
            }
            if let Some(why) = compile_time(ws, p) {
                return (Err(format!("`{rel}` embeds it and {why}")), Vec::new());
            }
            if !by.contains(&rel) {
                by.push(rel.clone());
            }
            match place {
                IncludePlace::Body(lines) => sites.push(crate::core::select_tests::ValueSite {
                    path: rel.clone(),
                    hash: content_hash(text.as_bytes()),
                    lines,
                }),
                IncludePlace::Value { name, public } => values.push((name, public)),
                IncludePlace::Elsewhere(why) => return (Err(format!("`{rel}` {why}")), Vec::new()),
            }
        }
    }
    if sites.is_empty() && values.is_empty() {
        return (
            Err("a compilation reads it, though no `include_str!` or `include_bytes!` vigil can place names it".into()),
            Vec::new(),
        );
    }
    (Ok(crate::core::select_tests::Embedded { sites, by }), values)
}

/// For each `const` or `static` whose value the change set changed (by
/// name, with whether it is `pub`), the function bodies of the workspace's
/// Rust sources that read it (or where one names it outside a body): only
/// files whose text holds the name are parsed.
fn value_sites(
    ws: &Workspace,
    sources: &[(PathBuf, String)],
    names: &[(String, bool)],
) -> HashMap<String, Result<Vec<crate::core::select_tests::ValueSite>, String>> {
    use crate::core::select_tests::ValueSite;
    let mut out: HashMap<String, Result<Vec<ValueSite>, String>> =
        names.iter().map(|(n, _)| (n.clone(), Ok(Vec::new()))).collect();
    for (p, text) in sources {
        let rel = ws.relative(p);
        if p.extension().is_some_and(|e| e == "md") {
            // A README a crate's docs include (`#[doc = include_str!(…)]`)
            // holds doctests no map shows reading a `pub` value.
            for (name, public) in names {
                if *public && crate::core::syntax::names_word(text, name) {
                    out.insert(
                        name.clone(),
                        Err(format!("`{rel}` names `{name}` (a doctest may read it)")),
                    );
                }
            }
            continue;
        }
        let compile_time = compile_time(ws, p);
        let mut hash = None;
        for (name, public) in names {
            let Some(Ok(sites)) = out.get_mut(name) else { continue };
            if !text.contains(name.as_str()) {
                continue;
            }
            match crate::core::syntax::value_readers(text, name, *public) {
                Ok(bodies) if bodies.is_empty() => {}
                Ok(_) if compile_time.is_some() => {
                    let why = compile_time.clone().unwrap_or_default();
                    out.insert(name.clone(), Err(format!("`{rel}` names `{name}` and {why}")));
                }
                Ok(bodies) => {
                    let hash = hash.get_or_insert_with(|| content_hash(text.as_bytes()));
                    sites.extend(bodies.into_iter().map(|lines| ValueSite {
                        path: rel.clone(),
                        hash: hash.clone(),
                        lines,
                    }));
                }
                Err(e) => {
                    out.insert(name.clone(), Err(format!("`{rel}` {e}")));
                }
            }
        }
    }
    out
}

/// Why the code of `path` runs as the workspace compiles, where it does
/// (a build script, a proc-macro crate, a build script's dependency): no
/// map shows what it does.
fn compile_time(ws: &Workspace, path: &Path) -> Option<String> {
    path.file_name()
        .is_some_and(|n| n == "build.rs")
        .then(|| "is a build script".to_owned())
        .or_else(|| ws.compile_time_code(path))
}

/// Each pair's change placed (`core::syntax::attribute`: old text, new
/// text), in order, the pairs shared among the machine's cores when there
/// are enough of them to be worth a thread.
pub fn attribute_all(pairs: &[(&str, &str)]) -> Vec<crate::core::syntax::Attribution> {
    use crate::core::syntax::attribute;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    if pairs.len() < 16 || cores < 2 {
        return pairs.iter().map(|(a, b)| attribute(a, b)).collect();
    }
    let per = pairs.len().div_ceil(cores);
    std::thread::scope(|s| {
        let parts: Vec<_> = pairs
            .chunks(per)
            .map(|part| s.spawn(move || part.iter().map(|(a, b)| attribute(a, b)).collect::<Vec<_>>()))
            .collect();
        parts
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    })
}

/// The lines changed since git revision `base` in the workspace at
/// `root`: `git diff -U0` against the working tree, and every line of the
/// files git does not track yet.
pub(crate) fn changes_since(root: &Path, base: &str) -> Result<crate::core::patch::Changes, GitError> {
    let git = |args: &[&str]| crate::adapters::git::git(root, args);
    let diff = git(&[
        "diff",
        "-U0",
        "--no-color",
        "--no-ext-diff",
        "--relative",
        base,
        "--",
        ".",
    ])?;
    let mut files = crate::core::patch::parse_unified_diff(&diff);
    // New Rust sources (coverage knows nothing else), not build output.
    let untracked = git(&["ls-files", "--others", "--exclude-standard", "--", "."])?;
    for path in untracked
        .lines()
        .filter(|p| p.ends_with(".rs") && !p.starts_with("target/"))
    {
        let n = std::fs::read_to_string(root.join(path)).map_or(0, |t| t.lines().count() as u32);
        if n > 0 {
            files.push((path.to_owned(), vec![[1, n]]));
        }
    }
    Ok(crate::core::patch::Changes {
        base: base.to_owned(),
        files,
    })
}

impl CoverageRig {
    /// The Rust sources' hashes as the session started (kept under
    /// `sources/`), if they were kept.
    pub(crate) fn session_base(&self) -> Option<BTreeMap<String, String>> {
        self.session.lock().ok()?.clone()
    }

    /// Keeps the Rust sources as the session starts: patch coverage in watch
    /// mode without `coverage.base` is measured against them.
    pub(crate) fn snapshot_session(&self) {
        if self.base.is_some() {
            return;
        }
        let sources = self.dir.join("sources");
        let _ = std::fs::create_dir_all(&sources);
        let mut base = BTreeMap::new();
        for rel in self.rust_sources() {
            let Ok(text) = std::fs::read(self.root.join(&rel)) else {
                continue;
            };
            let hash = content_hash(&text);
            let kept = sources.join(&hash);
            if !kept.exists() {
                // Named by its hash: never half a file under that name.
                let _ = crate::adapters::keep::write_atomic(&kept, &text);
            }
            base.insert(rel, hash);
        }
        if let Ok(mut s) = self.session.lock() {
            *s = Some(base);
        }
    }

    /// The lines changed since the session's snapshot (`None`: none taken).
    pub(super) fn changes_since_session(&self) -> Option<crate::core::patch::Changes> {
        let base = self.session.lock().ok()?.clone()?;
        let sources = self.dir.join("sources");
        let mut files = Vec::new();
        for rel in self.rust_sources() {
            let Ok(now) = std::fs::read_to_string(self.root.join(&rel)) else {
                continue;
            };
            let old = match base.get(&rel) {
                Some(h) if *h == content_hash(now.as_bytes()) => continue,
                Some(h) => std::fs::read_to_string(sources.join(h)).unwrap_or_default(),
                None => String::new(),
            };
            let ranges = crate::core::patch::changed_lines(&old, &now);
            if !ranges.is_empty() {
                files.push((rel, ranges));
            }
        }
        Some(crate::core::patch::Changes {
            base: "the session's start".into(),
            files,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::syntax::{attribute, Attribution};

    /// Shared among the cores, each pair is placed as alone and in order:
    /// bodies, layout, a static table and a text that does not parse.
    #[test]
    fn pairs_placed_on_every_core_are_placed_as_one_by_one() {
        let old = "static T: [u8; 2] = [\n    1, 2,\n];\n\nfn f(n: u32) -> u32 {\n    n * 10\n}\n";
        let news: Vec<String> = (0..40)
            .map(|i| match i % 4 {
                0 => old.replace("n * 10", &format!("n * {i}")),
                1 => old.replace("    n * 10", "    // ten\n    n * 10"),
                2 => old.replace("1, 2", "1, 3"),
                _ => old.replace("n * 10", "n * "),
            })
            .collect();
        let pairs: Vec<(&str, &str)> = news.iter().map(|n| (old, n.as_str())).collect();
        let all = attribute_all(&pairs);
        let one: Vec<Attribution> = pairs.iter().map(|(a, b)| attribute(a, b)).collect();
        assert_eq!(all, one);
        assert!(matches!(all[0], Attribution::Code { .. }) && all[1] == Attribution::Layout);
        assert!(
            matches!(&all[2], Attribution::Code { values, .. } if values[0].why.contains("static T")),
            "{:?}",
            all[2]
        );
        assert!(
            matches!(&all[3], Attribution::Static(why) if why.contains("does not parse")),
            "{:?}",
            all[3]
        );
    }
}
