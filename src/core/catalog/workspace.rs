//! The workspace as cargo describes it: its packages, their targets, what
//! each publishes (`package.include` / `exclude`, gitignore-style), the
//! resolved graph's dependents, and which package owns a path.

use super::*;

/// The cargo workspace vigil watches.
#[derive(Clone, Debug, Default)]
pub struct Workspace {
    pub root: PathBuf,
    pub target_dir: PathBuf,
    pub packages: Vec<Package>,
    /// Path dependencies that are not members (`../vendored/x`, excluded
    /// members): watched, and their changes select their dependents.
    pub path_deps: Vec<Package>,
    /// cargo's resolved graph (empty when only `--no-deps` was read).
    pub graph: Graph,
    /// Why the resolved graph could not be read, when it could not.
    pub resolve_error: Option<String>,
    /// Only the members were read so far; the resolved graph (and the path
    /// dependencies outside the members) is on its way.
    pub graph_pending: bool,
    /// The texts of the root manifest, every local package's manifest and
    /// `Cargo.lock`, as this workspace was read (absolute path → text):
    /// what a change to one is compared with.
    pub manifests: BTreeMap<PathBuf, String>,
    /// The targets cargo found as the manifests were read before (`vigil
    /// run --changed` with a kept copy; `None`: they are `packages`'s).
    pub targets_before: Option<BTreeMap<String, Vec<String>>>,
}

impl Workspace {
    /// Each local package's targets as cargo resolved them (`kind name
    /// path`), for telling a manifest that only spells its targets out
    /// from one that changes them.
    pub(crate) fn target_lists(&self) -> BTreeMap<String, Vec<String>> {
        self.packages
            .iter()
            .chain(&self.path_deps)
            .map(|p| {
                let mut list: Vec<String> = p
                    .targets
                    .iter()
                    .map(|t| {
                        let path = t.src_path.strip_prefix(&p.manifest_dir).unwrap_or(&t.src_path);
                        format!("{} {} {}", t.kinds.join(","), t.name, path.display())
                    })
                    .collect();
                list.sort();
                (p.name.clone(), list)
            })
            .collect()
    }

    /// The targets as the manifests were read before.
    pub(crate) fn targets_then(&self) -> BTreeMap<String, Vec<String>> {
        self.targets_before.clone().unwrap_or_else(|| self.target_lists())
    }
}

impl Workspace {
    /// A path as the user knows it: relative to the workspace root, with
    /// `..` for files beside it (`../shared/x.txt`); absolute when the two
    /// share nothing but `/`.
    pub fn relative(&self, path: &Path) -> String {
        if let Ok(rel) = path.strip_prefix(&self.root) {
            return rel.display().to_string();
        }
        let common = self
            .root
            .components()
            .zip(path.components())
            .take_while(|(a, b)| a == b)
            .count();
        if common <= 1 || !path.is_absolute() {
            return path.display().to_string();
        }
        let up = self.root.components().count() - common;
        let mut rel = PathBuf::new();
        for _ in 0..up {
            rel.push("..");
        }
        rel.extend(path.components().skip(common));
        rel.display().to_string()
    }

    /// Why code in `path` runs at compile time wherever it sits: its
    /// package is a proc-macro crate, a build script's dependency, or
    /// a dependency of either. `None`: it runs when tests run.
    pub(crate) fn compile_time_code(&self, path: &Path) -> Option<String> {
        let (owner, _) = self.owning_package(path)?;
        if owner.has_target("proc-macro") {
            return Some(format!(
                "`{}` is a proc-macro crate (its code runs as its users compile)",
                owner.name
            ));
        }
        // Forward from every build-dependency edge and every proc macro.
        let g = &self.graph;
        let mut seen = vec![false; g.nodes.len()];
        let mut stack: Vec<(usize, String)> = Vec::new();
        for (i, n) in g.nodes.iter().enumerate() {
            for e in &n.deps {
                if e.kinds.iter().any(|(k, _)| *k == crate::core::graph::DepKind::Build) {
                    stack.push((e.to, format!("`{}`'s build script", n.name)));
                }
            }
            let proc_macro = self
                .packages
                .iter()
                .chain(&self.path_deps)
                .any(|p| p.name == n.name && p.has_target("proc-macro"));
            if proc_macro && n.dir.is_some() {
                stack.push((i, format!("the proc macro `{}`", n.name)));
            }
        }
        while let Some((i, via)) = stack.pop() {
            if i >= seen.len() || std::mem::replace(&mut seen[i], true) {
                continue;
            }
            if g.nodes[i].name == owner.name && g.nodes[i].dir.is_some() {
                return Some(format!(
                    "`{}` is compiled into {via} (its code runs at compile time)",
                    owner.name
                ));
            }
            for e in &g.nodes[i].deps {
                if e.kinds.iter().any(|(k, _)| *k != crate::core::graph::DepKind::Dev) {
                    stack.push((e.to, via.clone()));
                }
            }
        }
        None
    }

    /// The local package whose directory holds `path` (the deepest, for
    /// nested ones), and whether it is a member.
    pub(crate) fn owning_package(&self, path: &Path) -> Option<(&Package, bool)> {
        let members = self.packages.iter().map(|p| (p, true));
        let others = self.path_deps.iter().map(|p| (p, false));
        // The innermost package whose directory holds it; a file its
        // manifest's `include`/`exclude` leave out is no package's.
        members
            .chain(others)
            .filter(|(p, _)| path.starts_with(&p.manifest_dir))
            .max_by_key(|(p, _)| p.manifest_dir.components().count())
            .filter(|(p, _)| p.holds_file(path))
    }

    pub fn package(&self, name: &str) -> Option<&Package> {
        self.packages.iter().find(|p| p.name == name)
    }

    /// Members that depend on `name`, directly or not (not including `name`),
    /// through cargo's resolved graph when it is known.
    pub fn dependents(&self, name: &str) -> Vec<String> {
        if let Some(i) = self.graph.local(name) {
            return self.graph.dependents(i).into_iter().map(|d| d.member).collect();
        }
        let mut found: Vec<String> = Vec::new();
        let mut frontier = vec![name.to_owned()];
        while let Some(current) = frontier.pop() {
            for pkg in &self.packages {
                if pkg.deps.contains(&current) && !found.contains(&pkg.name) && pkg.name != name {
                    found.push(pkg.name.clone());
                    frontier.push(pkg.name.clone());
                }
            }
        }
        found.sort();
        found
    }
}

/// A workspace member.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Package {
    pub name: String,
    pub manifest_dir: PathBuf,
    /// Workspace members this package depends on (normal, dev or build).
    pub deps: Vec<String>,
    pub targets: Vec<Target>,
    /// The manifest's `package.include` and `package.exclude` (gitignore
    /// patterns): which files under its directory are the package's.
    pub include: Vec<String>,
    pub exclude: Vec<String>,
}

impl Package {
    /// Whether `path` (under the package's directory) is one of its files
    /// as cargo would package them: `include`, when given, names them all
    /// (its manifest always counts); otherwise everything `exclude` does
    /// not name.
    pub(crate) fn holds_file(&self, path: &Path) -> bool {
        let Ok(rel) = path.strip_prefix(&self.manifest_dir) else {
            return false;
        };
        let parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        if parts == ["Cargo.toml"] {
            return true;
        }
        if !self.include.is_empty() {
            return listed(&self.include, &parts);
        }
        !listed(&self.exclude, &parts)
    }

    /// Whether a target of this kind (`lib`, `bin`, `proc-macro`) is there.
    pub(crate) fn has_target(&self, kind: &str) -> bool {
        self.targets.iter().any(|t| t.kinds.iter().any(|k| k == kind))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub name: String,
    pub kinds: Vec<String>,
    pub src_path: PathBuf,
}

/// Whether gitignore-style `patterns` name the file at `parts` (a later
/// `!pattern` takes a match back).
pub(super) fn listed(patterns: &[String], parts: &[&str]) -> bool {
    let mut hit = false;
    for p in patterns {
        let (negated, p) = match p.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, p.as_str()),
        };
        if gitignore_match(p, parts) {
            hit = !negated;
        }
    }
    hit
}

/// One gitignore pattern against a file's path components: a pattern with
/// a `/` (other than a trailing one) is anchored at the package's root,
/// one without matches at any depth; a trailing `/` matches directories
/// only; `*` stays within a component, `**` spans any number. A matched
/// directory holds the file.
pub(super) fn gitignore_match(pattern: &str, parts: &[&str]) -> bool {
    let dir_only = pattern.ends_with('/');
    let p = pattern.trim_end_matches('/');
    let anchored = p.starts_with('/') || p.contains('/');
    let pat: Vec<&str> = p.trim_start_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    if pat.is_empty() {
        return false;
    }
    let starts = if anchored { 0..1 } else { 0..parts.len() };
    starts.into_iter().any(|s| prefix_match(&pat, &parts[s..], dir_only))
}

/// Whether `pat` matches `parts[..k]` for some k (k short of the end when
/// only directories may match).
pub(super) fn prefix_match(pat: &[&str], parts: &[&str], dir_only: bool) -> bool {
    match pat.split_first() {
        None => false,
        Some((&"**", rest)) => {
            if rest.is_empty() {
                return parts.len() > usize::from(dir_only);
            }
            (0..parts.len()).any(|i| prefix_match(rest, &parts[i..], dir_only))
        }
        Some((first, rest)) => {
            let Some(part) = parts.first() else { return false };
            if !crate::core::glob::Glob::new(first).matches(part) {
                return false;
            }
            if rest.is_empty() {
                return !dir_only || parts.len() > 1;
            }
            prefix_match(rest, &parts[1..], dir_only)
        }
    }
}
