//! What each compilation of the workspace read, as cargo recorded it:
//! rustc's dep-info (every source and `include_str!`/`include_bytes!` file)
//! and build scripts' `rerun-if-changed` paths. Files that are not Rust
//! sources, or that lie outside every package, select the binaries built
//! from them through this index. Built by `adapters::inputs`; pure here.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// Who is rebuilt when an input changes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Owner {
    /// A library or build script of a local package: the package and
    /// everything that depends on it.
    Package(String),
    /// One test binary only (a `tests/`, bench or example target).
    Binary { package: String, binary_id: String },
}

/// Why an input belongs to its owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Via {
    /// rustc read it while compiling (dep-info).
    Compiled,
    /// A build script asked to be rerun when it changes.
    RerunIfChanged,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inputs {
    files: HashMap<PathBuf, Vec<(Owner, Via)>>,
    /// `rerun-if-changed` directories: anything below them counts.
    dirs: Vec<(PathBuf, Owner)>,
    /// How many dep-info files were read (0: nothing built yet).
    pub compilations: usize,
    /// Packages whose build script prints no `rerun-if` line: cargo reruns
    /// it on any change to one of the package's own files.
    whole_packages: Vec<String>,
    /// What those build scripts read when they last ran, traced (`None`:
    /// some run of it was not): a file of the package that none of them
    /// read cannot change what they print, however often cargo reruns them.
    build_reads: HashMap<String, Option<BuildReads>>,
    /// The environment compilations read (`env!`, `option_env!`; dep-info's
    /// `# env-dep:` lines): (package, variable) → who is rebuilt.
    env: HashMap<(String, String), Vec<Owner>>,
}

impl Inputs {
    pub fn add_file(&mut self, path: PathBuf, owner: Owner, via: Via) {
        let owners = self.files.entry(path).or_default();
        if !owners.iter().any(|(o, _)| *o == owner) {
            owners.push((owner, via));
        }
    }

    pub fn add_dir(&mut self, path: PathBuf, owner: Owner) {
        if !self.dirs.iter().any(|(p, o)| *p == path && *o == owner) {
            self.dirs.push((path, owner));
        }
    }

    /// `package`'s build script reruns on every file of it; `reads`: what
    /// that run of it read (`None`: not traced). A package's runs (one per
    /// profile and feature set) are joined; one untraced run leaves what
    /// they read unknown.
    pub(crate) fn add_whole_package(&mut self, package: &str, reads: Option<BuildReads>) {
        if !self.whole_packages.iter().any(|p| p == package) {
            self.whole_packages.push(package.to_owned());
            self.build_reads.insert(package.to_owned(), reads);
            return;
        }
        let known = self.build_reads.entry(package.to_owned()).or_insert(None);
        match (known.as_mut(), reads) {
            (Some(k), Some(r)) => {
                k.exact.extend(r.exact);
                k.under.extend(r.under);
            }
            _ => *known = None,
        }
    }

    /// Whether `package`'s build script (one that reruns on every file of
    /// the package) read `path` when it last ran: `None` when that is not
    /// known.
    pub(crate) fn build_script_read(&self, package: &str, path: &Path) -> Option<bool> {
        self.build_reads.get(package)?.as_ref().map(|r| r.names(path))
    }

    /// Whether `package`'s build script reruns on every file of it.
    pub(crate) fn reruns_on_package(&self, package: &str) -> bool {
        self.whole_packages.iter().any(|p| p == package)
    }

    /// `package`'s compilation `owner` read the variable `var`.
    pub(crate) fn add_env(&mut self, package: &str, var: &str, owner: Owner) {
        let owners = self.env.entry((package.to_owned(), var.to_owned())).or_default();
        if !owners.contains(&owner) {
            owners.push(owner);
        }
    }

    /// Who read `package`'s variable `var` while compiling (a changed
    /// `CARGO_PKG_VERSION` reaches exactly them).
    pub(crate) fn env_owners(&self, package: &str, var: &str) -> Vec<Owner> {
        let mut found = self
            .env
            .get(&(package.to_owned(), var.to_owned()))
            .cloned()
            .unwrap_or_default();
        found.sort();
        found
    }

    /// The owners of a changed file, and how each one reads it.
    pub(crate) fn owners(&self, path: &Path) -> Vec<(Owner, Via)> {
        let mut found: Vec<(Owner, Via)> = self.files.get(path).cloned().unwrap_or_default();
        for (dir, owner) in &self.dirs {
            if path.starts_with(dir) && !found.iter().any(|(o, _)| o == owner) {
                found.push((owner.clone(), Via::RerunIfChanged));
            }
        }
        found.sort();
        found
    }

    /// Every file and directory the index names (what to watch).
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.files
            .keys()
            .map(PathBuf::as_path)
            .chain(self.dirs.iter().map(|(d, _)| d.as_path()))
    }

    pub fn len(&self) -> usize {
        self.files.len() + self.dirs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.dirs.is_empty()
    }
}

/// What a build script's processes read while it ran (the tracer's
/// record beside cargo's `output`), as absolute paths.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BuildReads {
    /// Opened, looked at, looked for, listed: a change to one of these.
    pub exact: BTreeSet<PathBuf>,
    /// Listed, or looked for and missing: anything that appears below.
    pub under: BTreeSet<PathBuf>,
}

impl BuildReads {
    /// The tracer's lines (`<kind> <path>`; `+` opens the record).
    pub fn parse(text: &str) -> Self {
        let mut reads = Self::default();
        for line in text.lines() {
            let Some((kind, path)) = line.split_once(' ') else {
                continue;
            };
            let path = normalize(Path::new(path));
            if matches!(kind, "d" | "m") {
                reads.under.insert(path.clone());
            }
            if matches!(kind, "r" | "s" | "d" | "m") {
                reads.exact.insert(path);
            }
        }
        reads
    }

    /// Whether a change to `path` can reach what was read.
    pub(crate) fn names(&self, path: &Path) -> bool {
        self.exact.contains(path) || path.ancestors().skip(1).any(|a| self.under.contains(a))
    }
}

/// `a/src/../fixtures/x.txt` → `a/fixtures/x.txt`, without asking the disk.
pub(crate) fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_and_directories_find_their_owners() {
        let mut inputs = Inputs::default();
        let data = Owner::Package("data".into());
        let built = Owner::Package("built".into());
        inputs.add_file("/w/data/words.txt".into(), data.clone(), Via::Compiled);
        inputs.add_file("/w/data/words.txt".into(), data.clone(), Via::Compiled);
        inputs.add_dir("/w/built/assets".into(), built.clone());
        assert_eq!(
            inputs.owners(Path::new("/w/data/words.txt")),
            vec![(data, Via::Compiled)]
        );
        assert_eq!(
            inputs.owners(Path::new("/w/built/assets/logo.svg")),
            vec![(built, Via::RerunIfChanged)]
        );
        assert!(inputs.owners(Path::new("/w/NOTES.md")).is_empty());
    }

    #[test]
    fn a_build_script_without_rerun_lines_owns_its_package_by_name() {
        let mut inputs = Inputs::default();
        inputs.add_whole_package("root", None);
        // The package's own files only: nested packages are theirs (the
        // plan asks which package holds the file).
        assert!(inputs.reruns_on_package("root"));
        assert!(!inputs.reruns_on_package("nested"));
        assert!(inputs.owners(Path::new("/w/crates/nested/src/lib.rs")).is_empty());
        assert_eq!(inputs.build_script_read("root", Path::new("/w/NOTES.md")), None);
    }

    #[test]
    fn what_a_traced_build_script_read_is_all_its_package_files_can_reach() {
        let record = "+\nr /w/data/build.txt\ns /w/assets/logo.svg\nd /w/templates\nm /w/gen/extra.txt\nm /w/.git\n";
        let mut inputs = Inputs::default();
        inputs.add_whole_package("root", Some(BuildReads::parse(record)));
        let read = |p: &str| inputs.build_script_read("root", Path::new(p));
        assert_eq!(read("/w/data/build.txt"), Some(true));
        assert_eq!(read("/w/assets/logo.svg"), Some(true));
        // A new file in a directory it listed, or where it looked and found nothing.
        assert_eq!(read("/w/templates/new.html"), Some(true));
        assert_eq!(read("/w/templates/sub/new.html"), Some(true));
        assert_eq!(read("/w/gen/extra.txt"), Some(true));
        assert_eq!(read("/w/.git/HEAD"), Some(true));
        // Looked at, not listed: its other files are not read.
        assert_eq!(read("/w/assets/other.svg"), Some(false));
        assert_eq!(read("/w/CHANGELOG.md"), Some(false));
        assert_eq!(read("/w/data/other.txt"), Some(false));
        // Another run of it (another profile) adds what it read.
        inputs.add_whole_package("root", Some(BuildReads::parse("+\nr /w/CHANGELOG.md\n")));
        assert_eq!(
            inputs.build_script_read("root", Path::new("/w/CHANGELOG.md")),
            Some(true)
        );
        assert_eq!(
            inputs.build_script_read("root", Path::new("/w/data/build.txt")),
            Some(true)
        );
        // One run not traced: what they read is not known.
        inputs.add_whole_package("root", None);
        assert_eq!(inputs.build_script_read("root", Path::new("/w/GUIDE.md")), None);
        inputs.add_whole_package("root", Some(BuildReads::default()));
        assert_eq!(inputs.build_script_read("root", Path::new("/w/GUIDE.md")), None);
    }

    #[test]
    fn normalize_folds_parent_components() {
        assert_eq!(
            normalize(Path::new("/w/data/src/../../outside/x.txt")),
            PathBuf::from("/w/outside/x.txt")
        );
        assert_eq!(normalize(Path::new("a/./b")), PathBuf::from("a/b"));
    }
}
