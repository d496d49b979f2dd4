//! A run's coverage read: the profiles merged (corrupt ones left out, and
//! said), reported against every instrumented executable of the workspace,
//! and a partitioned run's shards merged into one.

use super::*;
use crate::core::ids::RunId;

/// The raw profiles vigil can read, and a note naming those it cannot
/// (by test, where the name says which) and why.
pub(super) fn readable_profiles(raws: Vec<PathBuf>, tests: &[TestKey]) -> (Vec<PathBuf>, Option<String>) {
    let by_hash: HashMap<String, String> = tests
        .iter()
        .map(|TestId(b, t)| (format!("t-{:016x}-", test_hash(b, t)), format!("{b} › {t}")))
        .collect();
    let mut good = Vec::with_capacity(raws.len());
    let mut bad = Vec::new();
    for raw in raws {
        let why = match std::fs::read(&raw) {
            Ok(bytes) => profile::parse_profraw(&bytes).err(),
            Err(e) => Some(e.to_string()),
        };
        match why {
            None => good.push(raw),
            Some(why) => {
                let name = raw
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let who = by_hash
                    .iter()
                    .find(|(prefix, _)| name.starts_with(prefix.as_str()))
                    .map_or_else(|| name.clone(), |(_, test)| format!("{test} ({name})"));
                bad.push(format!("{who}: {why}"));
            }
        }
    }
    let note = (!bad.is_empty()).then(|| {
        format!(
            "coverage left out {} profile{} it could not read, so those tests' lines count as not run by them: {}",
            bad.len(),
            if bad.len() == 1 { "" } else { "s" },
            bad.join("; ")
        )
    });
    (good, note)
}

/// The shards' coverage as one (`vigil merge`): their profiles merged
/// (`llvm-profdata merge`), then reported over every object any shard was
/// read with — the figure a single unsharded run gives. `None`: no shard
/// has coverage.
pub(crate) fn merge_shards(dirs: &[PathBuf], out: &Path) -> Result<Option<crate::core::coverage::Coverage>, String> {
    let mut metas = Vec::new();
    for d in dirs {
        let Ok(text) = std::fs::read_to_string(d.join("coverage.json")) else {
            continue;
        };
        let meta: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", d.join("coverage.json").display()))?;
        metas.push((d.clone(), meta));
    }
    let Some((_, first)) = metas.first() else {
        return Ok(None);
    };
    if metas.len() != dirs.len() {
        return Err(format!(
            "{} of {} shards have coverage: merged, the figure would not be the whole run's",
            metas.len(),
            dirs.len()
        ));
    }
    let tool = |key: &str| PathBuf::from(first[key].as_str().unwrap_or_default());
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let merged = out.join("merged.profdata");
    let mut cmd = crate::adapters::process::tied(tool("llvm_profdata"));
    cmd.args(["merge", "-sparse", "-o"]).arg(&merged);
    for (d, _) in &metas {
        cmd.arg(d.join("coverage.profdata"));
    }
    run_tool(cmd, "llvm-profdata merge").map_err(|e| e.to_string())?;
    // Each binary once (shards of one build hold the same ones).
    let mut objects: BTreeMap<String, PathBuf> = BTreeMap::new();
    for (d, meta) in &metas {
        for name in meta["objects"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|o| o.as_str())
        {
            objects
                .entry(name.to_owned())
                .or_insert_with(|| d.join("objects").join(name));
        }
    }
    let mut objects = objects.into_values();
    let Some(first_object) = objects.next() else {
        return Err("the shards name no instrumented binary".to_owned());
    };
    let mut cmd = crate::adapters::process::tied(tool("llvm_cov"));
    cmd.args(["export", "-format=lcov", "-instr-profile"])
        .arg(&merged)
        .arg(first_object)
        .arg(format!(
            "-ignore-filename-regex={}",
            first["ignore_filename_regex"].as_str().unwrap_or_default()
        ));
    for o in objects {
        cmd.arg("--object").arg(o);
    }
    let text = run_tool(cmd, "llvm-cov export").map_err(|e| e.to_string())?;
    let root = PathBuf::from(first["root"].as_str().unwrap_or_default());
    let mut cov = lcov::parse(&text, &root);
    cov.branches_measured = first["branch"].as_bool().unwrap_or(false);
    Ok(Some(cov))
}

impl CoverageRig {
    /// Merges run `run`'s profiles, makes them the latest for the binaries
    /// that ran, and reports over every binary in `all` (id → path).
    pub fn collect(
        &self,
        run: RunId,
        ran: &[String],
        all: &BTreeMap<String, PathBuf>,
        tests: &[TestKey],
        partial: &[String],
    ) -> Result<Collected, CoverageError> {
        std::fs::create_dir_all(&self.dir).map_err(|source| CoverageError::Write {
            path: self.dir.clone(),
            source,
        })?;
        let raw_dir = self.run_dir(run);
        let mut maps = (Vec::new(), None);
        let mut maps_took = std::time::Duration::ZERO;
        // Each binary's mapping is read once for the tests' and the
        // doctests' maps.
        let mut mappings = Mappings::default();
        let raws: Vec<PathBuf> = std::fs::read_dir(&raw_dir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "profraw"))
                    .filter(|p| p.metadata().is_ok_and(|m| m.len() > 0))
                    .collect()
            })
            .unwrap_or_default();
        // A profile cut short or corrupt (a test killed as it wrote it, a
        // full disk) is left out of the merge, which would fail on it, and
        // said: the other tests' coverage stands.
        let (raws, unreadable) = readable_profiles(raws, tests);
        // binary id → (its latest profile, the binary it was read with).
        let mut index: BTreeMap<String, (String, PathBuf)> = std::fs::read_to_string(self.index_path())
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        if !raws.is_empty() {
            let merged = self.dir.join(format!("{}.profdata", Self::run_name(run)));
            let mut cmd = crate::adapters::process::tied(&self.tools.profdata);
            cmd.args(["merge", "-sparse", "-o"]).arg(&merged).args(&raws);
            // A binary that ran only some of its tests keeps what the others
            // measured before: its earlier profile is merged in. (A function
            // changed since has another hash, and llvm-cov credits it only
            // from the tests that ran on it.)
            let mut earlier: Vec<PathBuf> = partial
                .iter()
                .filter_map(|b| index.get(b))
                .map(|(p, _)| self.dir.join(p))
                .filter(|p| p.exists())
                .collect();
            earlier.sort();
            earlier.dedup();
            cmd.args(&earlier);
            run_tool(cmd, "llvm-profdata merge")?;
            let t0 = std::time::Instant::now();
            maps = self.test_maps(&raws, all, tests, &mut mappings);
            maps_took = t0.elapsed();
            for b in ran {
                if let Some(path) = all.get(b) {
                    index.insert(b.clone(), (format!("{}.profdata", Self::run_name(run)), path.clone()));
                }
            }
        }
        // The doc lane's own maps, also where nextest ran nothing.
        let t0 = std::time::Instant::now();
        maps.0.extend(self.doc_maps(all, tests, &mut mappings));
        maps_took += t0.elapsed();
        let _ = std::fs::remove_dir_all(&raw_dir);
        // A binary this process listed is read from its current build; one
        // it did not list (a partial run) from where it was last; one whose
        // build is gone drops out, and so, after a while, does its profile
        // (another vigil on this workspace may be about to point at it).
        for (b, entry) in index.iter_mut() {
            if let Some(path) = all.get(b) {
                entry.1 = path.clone();
            }
        }
        index.retain(|_, (_, path)| path.exists());
        let mut profiles: Vec<String> = index.values().map(|(p, _)| p.clone()).collect();
        profiles.sort();
        profiles.dedup();
        if let Ok(d) = std::fs::read_dir(&self.dir) {
            for e in d.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let old = e
                    .metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t.elapsed().is_ok_and(|age| age.as_secs() > 600));
                let leftover = name.starts_with("merged-") || name.starts_with("last-");
                let unused = name.starts_with("run-") && name.ends_with(".profdata") && !profiles.contains(&name);
                if old && (leftover || unused) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        crate::adapters::keep::write_atomic(
            &self.index_path(),
            serde_json::to_string_pretty(&index).unwrap_or_default().as_bytes(),
        )
        .map_err(|source| CoverageError::Write {
            path: self.index_path(),
            source,
        })?;
        if profiles.is_empty() {
            return Err(CoverageError::NoProfile);
        }
        let profdata = if profiles.len() == 1 {
            self.dir.join(&profiles[0])
        } else {
            let out = self.dir.join(format!("merged-{}.profdata", std::process::id()));
            let mut cmd = crate::adapters::process::tied(&self.tools.profdata);
            cmd.args(["merge", "-sparse", "-o"]).arg(&out);
            cmd.args(profiles.iter().map(|p| self.dir.join(p)));
            run_tool(cmd, "llvm-profdata merge")?;
            out
        };
        // Like cargo-llvm-cov, report over every instrumented test binary,
        // also those that ran no test: code only they link counts as
        // uncovered instead of dropping out of the figures.
        let mut objects: Vec<&PathBuf> = index.values().map(|(_, path)| path).collect();
        objects.extend(all.values().filter(|p| p.starts_with(&self.build_dir) && p.exists()));
        // And over the executables tests started: their code is counted
        // as cargo-llvm-cov counts it.
        let executables = self.executables();
        objects.extend(executables.iter());
        objects.sort();
        objects.dedup();
        let Some((first, rest)) = objects.split_first() else {
            return Err(CoverageError::NoBinary);
        };
        let mut cmd = crate::adapters::process::tied(&self.tools.cov);
        cmd.args(["export", "-format=lcov", "-instr-profile"])
            .arg(&profdata)
            .arg(first)
            .arg(format!("-ignore-filename-regex={}", self.ignore));
        for o in rest {
            cmd.arg("--object").arg(o);
        }
        let lcov_text = run_tool(cmd, "llvm-cov export")?;
        // What this report was made from, so anyone can ask llvm-cov itself.
        let inputs = serde_json::json!({
            "profdata": profdata,
            "objects": objects,
            "ignore_filename_regex": self.ignore,
            "llvm_cov": self.tools.cov,
        });
        let _ = crate::adapters::keep::write_atomic(
            &self.dir.join(format!("last-report-{}.json", std::process::id())),
            inputs.to_string().as_bytes(),
        );
        let _ = crate::adapters::keep::write_atomic(
            &self.dir.join(format!("last-{}.lcov", std::process::id())),
            lcov_text.as_bytes(),
        );
        // The newest report of any vigil on this workspace, for `vigil report --html`.
        let _ = crate::adapters::keep::write_atomic(&self.dir.join("latest.lcov"), lcov_text.as_bytes());
        let mut cov = lcov::parse(&lcov_text, &self.root);
        cov.branches_measured = self.branch;
        Ok(Collected {
            maps_took,
            patch: match self.base.as_deref() {
                Some(b) => Some(changes_since(&self.root, b)),
                None => self.changes_since_session().map(Ok),
            },
            coverage: cov,
            maps: maps.0,
            map_note: match (maps.1.or_else(|| self.runner_note.clone()), unreadable) {
                (note, None) => note,
                (None, Some(u)) => Some(u),
                (Some(note), Some(u)) => Some(format!("{u}; {note}")),
            },
        })
    }

    /// The workspace's Rust sources (outside `target/`), relative paths.
    pub(super) fn rust_sources(&self) -> Vec<String> {
        let mut out = Vec::new();
        let walk = ignore::WalkBuilder::new(&self.root).hidden(false).build();
        for e in walk.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "rs")
                && !p.starts_with(&self.target_dir)
                && e.file_type().is_some_and(|t| t.is_file())
            {
                if let Ok(rel) = p.strip_prefix(&self.root) {
                    out.push(rel.to_string_lossy().into_owned());
                }
            }
        }
        out
    }

    /// The coverage mappings of the workspace's instrumented executables
    /// (each package's `bin` targets), those that were built.
    pub(super) fn executable_mappings(&self) -> Vec<CoverageMap> {
        self.executables()
            .iter()
            .filter_map(|p| CoverageMap::read(p).ok())
            .collect()
    }

    /// The instrumented build's executables of the workspace's `bin`
    /// targets that exist (tests that run them write their profiles).
    pub(super) fn executables(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = self
            .bins
            .iter()
            .map(|name| {
                self.build_dir
                    .join("debug")
                    .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
            })
            .filter(|p| p.is_file())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// A workspace file's relative path and content hash (the text kept
    /// under `sources/`); `None` for code that is not the workspace's.
    pub(super) fn measured_file(
        &self,
        path: &Path,
        sources: &Path,
        seen: &mut HashMap<PathBuf, Option<(String, String)>>,
    ) -> Option<(String, String)> {
        seen.entry(path.to_owned())
            .or_insert_with(|| {
                if !path.starts_with(&self.root) || path.starts_with(&self.target_dir) {
                    return None;
                }
                let text = std::fs::read(path).ok()?;
                let hash = content_hash(&text);
                let kept = sources.join(&hash);
                if !kept.exists() {
                    let _ = crate::adapters::keep::write_atomic(&kept, &text);
                }
                let rel = path.strip_prefix(&self.root).ok()?.to_string_lossy().into_owned();
                Some((rel, hash))
            })
            .clone()
    }

    /// A shard's coverage into `dir` (`vigil run --partition … --out DIR`):
    /// run `run`'s own merged profile (`coverage.profdata`), the
    /// instrumented binaries the report was read with (`objects/`), and
    /// what `vigil merge` needs to read them (`coverage.json`).
    pub(crate) fn export_shard(&self, run: RunId, dir: &Path) -> Result<(), CoverageError> {
        let write = |path: &Path, source| CoverageError::Write {
            path: path.to_owned(),
            source,
        };
        let report: serde_json::Value =
            std::fs::read_to_string(self.dir.join(format!("last-report-{}.json", std::process::id())))
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok())
                .ok_or(CoverageError::NoProfile)?;
        let profile = self.dir.join(format!("{}.profdata", Self::run_name(run)));
        if !profile.exists() {
            return Err(CoverageError::NoProfile);
        }
        let objects_dir = dir.join("objects");
        std::fs::create_dir_all(&objects_dir).map_err(|e| write(&objects_dir, e))?;
        std::fs::copy(&profile, dir.join("coverage.profdata")).map_err(|e| write(&dir.join("coverage.profdata"), e))?;
        let mut names = Vec::new();
        for o in report["objects"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|o| o.as_str())
        {
            let from = Path::new(o);
            let Some(name) = from.file_name() else { continue };
            let to = objects_dir.join(name);
            // A hard link where the shard's directory allows it: binaries are big.
            if std::fs::hard_link(from, &to).is_err() {
                std::fs::copy(from, &to).map_err(|e| write(&to, e))?;
            }
            names.push(name.to_string_lossy().into_owned());
        }
        let meta = serde_json::json!({
            "objects": names,
            "ignore_filename_regex": self.ignore,
            "llvm_cov": self.tools.cov,
            "llvm_profdata": self.tools.profdata,
            "branch": self.branch,
            "root": self.root,
        });
        let path = dir.join("coverage.json");
        crate::adapters::keep::write_atomic(&path, meta.to_string().as_bytes()).map_err(|e| write(&path, e))
    }
}
