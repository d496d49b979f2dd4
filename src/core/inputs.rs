//! What each compilation of the workspace read, as cargo recorded it:
//! rustc's dep-info (every source and `include_str!`/`include_bytes!` file)
//! and build scripts' `rerun-if-changed` paths. Files that are not Rust
//! sources, or that lie outside every package, select the binaries built
//! from them through this index. Built by `adapters::inputs`; pure here.

use std::collections::HashMap;
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

    /// `package`'s build script reruns on every file of the package.
    pub(crate) fn add_whole_package(&mut self, package: &str) {
        if !self.whole_packages.iter().any(|p| p == package) {
            self.whole_packages.push(package.to_owned());
        }
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
        inputs.add_whole_package("root");
        // The package's own files only: nested packages are theirs (the
        // plan asks which package holds the file).
        assert!(inputs.reruns_on_package("root"));
        assert!(!inputs.reruns_on_package("nested"));
        assert!(inputs.owners(Path::new("/w/crates/nested/src/lib.rs")).is_empty());
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
