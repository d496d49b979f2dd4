//! Each test's own map, from its own profile: functions placed in the
//! binary that holds them (the test's, the crate's binary it ran, a
//! doctest's library), generic instances matched by name and hash.

use super::*;
use std::collections::BTreeSet;

/// The coverage mappings read while making maps, each once: test binaries
/// by binary id, and the workspace's executables (read when a profile
/// holds code its test binary does not: the test ran the crate's binary).
#[derive(Default)]
pub(super) struct Mappings {
    by_binary: HashMap<String, Option<CoverageMap>>,
    executables: Option<Vec<CoverageMap>>,
}

/// The crate that defines a mangled function (its path's root): v0
/// (`_RNvCs…_8rust_out4main`) or legacy (`_ZN8rust_out4main17h…E`). An
/// instance of a generic function names the crate that instantiated it
/// only after its path.
pub(super) fn defining_crate(symbol: &str) -> Option<&str> {
    let ident = |s: &str| -> Option<(usize, usize)> {
        let digits = s.bytes().take_while(u8::is_ascii_digit).count();
        let len: usize = s.get(..digits)?.parse().ok()?;
        Some((digits, len))
    };
    if let Some(rest) = symbol.strip_prefix("_ZN") {
        let (d, len) = ident(rest)?;
        return rest.get(d..d + len);
    }
    let rest = symbol.strip_prefix("_R")?;
    // The first crate root: `C`, an optional disambiguator `s…_`, then
    // the crate's name.
    let at = rest.find('C')?;
    let mut root = &rest[at + 1..];
    if let Some(after) = root.strip_prefix('s') {
        root = &after[after.find('_')? + 1..];
    }
    let (d, len) = ident(root)?;
    root.get(d..d + len)
}

/// A doctest's file and fence line, from its name:
/// `src/lib.rs - Money::add (line 12)` → (`src/lib.rs`, 12).
fn doc_fence(name: &str) -> Option<(&str, u32)> {
    let (file, _) = name.split_once(" - ")?;
    let line = name.rsplit_once("(line ")?.1.trim_end_matches(')');
    if line.is_empty() || !line.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some((file, line.parse().ok()?))
}

/// The wrapper rustdoc puts an example in, from the doctest's name:
/// `src/lib.rs - Money::add (line 12)` → `_doctest_main_src_lib_rs_12_`.
pub(super) fn doc_wrapper(name: &str) -> Option<String> {
    let (file, line) = doc_fence(name)?;
    let file: String = file
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    Some(format!("_doctest_main_{file}_{line}_"))
}

/// A mapping the tracer kept ("VGLM", then `__llvm_covmap` and
/// `__llvm_covfun`, each as its 8-byte length and bytes).
fn own_mapping(kept: &[u8]) -> Option<CoverageMap> {
    let rest = kept.strip_prefix(b"VGLM")?;
    let take = |b: &[u8]| -> Option<(usize, usize)> {
        let n = u64::from_le_bytes(b.get(..8)?.try_into().ok()?) as usize;
        (b.len() >= 8 + n).then_some((8, 8 + n))
    };
    let (a, b) = take(rest)?;
    let covmap = &rest[a..b];
    let rest = &rest[b..];
    let (c, d) = take(rest)?;
    CoverageMap::from_sections(covmap, &rest[c..d]).ok()
}

/// The doctest an unwrapped example is, by where its own code ran: in the
/// doctest's file, after its fence, before the next one of that file.
fn example_at<'k>(at: &BTreeMap<PathBuf, profile::Ran>, wrappers: &[(String, &'k TestKey)]) -> Option<&'k TestKey> {
    for (path, ran) in at {
        let first = *ran.lines.first()?;
        let last = *ran.lines.last()?;
        let in_file: Vec<(u32, &TestKey)> = wrappers
            .iter()
            .filter_map(|(_, k)| doc_fence(&k.1).filter(|(f, _)| path.ends_with(f)).map(|(_, l)| (l, *k)))
            .collect();
        let Some(&(line, key)) = in_file.iter().filter(|(l, _)| *l < first).max_by_key(|(l, _)| *l) else {
            continue;
        };
        // Another doctest's fence inside the example: not one example.
        if in_file.iter().any(|(l, _)| *l > line && *l <= last) {
            return None;
        }
        return Some(key);
    }
    None
}

/// The package of a doctest profile that names no doctest (an example
/// with its own `main`, which rustdoc does not wrap): the example's crate
/// (`rust_out`) calls one of the doctested packages' functions. With
/// one package's doctests in the run, that package.
fn own_main_package(names: &HashMap<u64, String>, wrappers: &[(String, &TestKey)]) -> Option<String> {
    if !names.values().any(|n| defining_crate(n) == Some("rust_out")) {
        return None;
    }
    let mut packages: Vec<&str> = wrappers.iter().map(|(_, k)| k.0.trim_end_matches("::doc")).collect();
    packages.sort();
    packages.dedup();
    match packages.as_slice() {
        [one] => Some((*one).to_owned()),
        _ => packages
            .iter()
            .find(|p| names.values().any(|n| defining_crate(n) == Some(&p.replace('-', "_"))))
            .map(|p| (*p).to_owned()),
    }
}

/// A file's part of a map: its lines folded, its branch outcomes.
fn file_map(hash: String, ran: profile::Ran) -> FileMap {
    FileMap {
        hash,
        lines: fold(ran.lines),
        branches: ran.branches.into_iter().map(|(l, c, t)| [l, c, u32::from(t)]).collect(),
    }
}

/// `records` read against `mapping` into `lines` (by source path); the
/// records that ran and that `mapping` does not hold come back.
pub(super) fn place(
    mapping: &CoverageMap,
    records: &[profile::Record],
    lines: &mut BTreeMap<PathBuf, profile::Ran>,
) -> Vec<profile::Record> {
    let mut by_file = BTreeMap::new();
    let rest = mapping.covered(records, &mut by_file).into_iter().cloned().collect();
    for (file, set) in by_file {
        if let Some(path) = mapping.files.get(file as usize) {
            lines.entry(path.clone()).or_default().extend(&set);
        }
    }
    rest
}

impl CoverageRig {
    /// Each test's own profile read natively against its binary's mapping:
    /// the lines it ran, per workspace file, with the file's content hash.
    /// The texts measured are kept (`sources/<hash>`) so that a later
    /// change can be placed against the version a map was made on.
    pub(super) fn test_maps(
        &self,
        raws: &[PathBuf],
        all: &BTreeMap<String, PathBuf>,
        tests: &[TestKey],
        mappings: &mut Mappings,
    ) -> (Vec<(TestKey, TestMap)>, Option<String>) {
        let by_hash: HashMap<u64, &TestKey> = tests.iter().map(|t| (test_hash(&t.0, &t.1), t)).collect();
        // test → its profile files (a retried test has several).
        let mut files: BTreeMap<&TestKey, Vec<&PathBuf>> = BTreeMap::new();
        for p in raws {
            let name = p.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
            let Some(hex) = name.strip_prefix("t-").and_then(|n| n.get(..16)) else {
                continue;
            };
            if let Some(t) = u64::from_str_radix(hex, 16).ok().and_then(|h| by_hash.get(&h)) {
                files.entry(*t).or_default().push(p);
            }
        }
        // test → what its processes read (one record per process).
        let mut reads: HashMap<&TestKey, Vec<String>> = HashMap::new();
        let dir = raws.first().and_then(|p| p.parent());
        // The run's shared record (the runner's tracer writes no other):
        // `<tag> <kind> <path>` lines, the tag naming the test's process
        // (`t-<hash>-…`), `<tag> +` its first. A test with no line there
        // was not traced.
        if let Some(text) = dir.and_then(|d| std::fs::read_to_string(d.join(crate::adapters::reads::SHARED)).ok()) {
            let mut by_tag: BTreeMap<&str, String> = BTreeMap::new();
            for line in text.lines() {
                let Some((tag, rest)) = line.split_once(' ') else {
                    continue;
                };
                let record = by_tag.entry(tag).or_default();
                if rest != "+" {
                    record.push_str(rest);
                    record.push('\n');
                }
            }
            for (tag, record) in by_tag {
                let Some(hex) = tag.strip_prefix("t-").and_then(|n| n.get(..16)) else {
                    continue;
                };
                if let Some(t) = u64::from_str_radix(hex, 16).ok().and_then(|h| by_hash.get(&h)) {
                    reads.entry(*t).or_default().push(record);
                }
            }
        }
        let mut read_hashes = crate::adapters::reads::Hashes::kept(&self.dir);
        let Mappings { by_binary, executables } = mappings;
        let mut problems = Vec::new();
        let mut hashes: HashMap<PathBuf, Option<(String, String)>> = HashMap::new();
        let sources = self.dir.join("sources");
        let mut out = Vec::new();
        for (test, profiles) in files {
            let Some(binary) = all.get(&test.0) else { continue };
            let mapping = by_binary
                .entry(test.0.clone())
                .or_insert_with(|| match CoverageMap::read(binary) {
                    Ok(m) => Some(m),
                    Err(e) => {
                        problems.push(e.to_string());
                        None
                    }
                });
            let Some(mapping) = mapping.as_ref() else { continue };
            let mut lines: BTreeMap<PathBuf, profile::Ran> = BTreeMap::new();
            let mut unplaced = 0;
            for p in profiles {
                let records = match std::fs::read(p)
                    .map_err(|e| e.to_string())
                    .and_then(|b| profile::parse_profraw(&b))
                {
                    Ok(records) => records,
                    Err(e) => {
                        problems.push(format!("{}: {e}", p.display()));
                        continue;
                    }
                };
                let mut rest: Vec<profile::Record> = place(mapping, &records, &mut lines);
                if !rest.is_empty() {
                    for m in executables.get_or_insert_with(|| self.executable_mappings()).iter() {
                        if rest.is_empty() {
                            break;
                        }
                        rest = place(m, &rest, &mut lines);
                    }
                }
                unplaced += rest.len();
            }
            let mut map = TestMap::default();
            for (path, set) in lines {
                let Some((rel, hash)) = self.measured_file(&path, &sources, &mut hashes) else {
                    continue;
                };
                map.files.insert(rel, file_map(hash, set));
            }
            if unplaced > 0 {
                map.partial = Some(format!(
                    "a process it started ran {unplaced} functions of a binary vigil could not read"
                ));
            }
            if let Some(texts) = reads.get(test) {
                map.reads = Some(crate::adapters::reads::parse(texts, &self.root, &mut read_hashes));
            }
            out.push((test.clone(), map));
        }
        read_hashes.keep();
        problems.sort();
        problems.dedup();
        let note = (!problems.is_empty()).then(|| format!("some tests have no coverage map: {}", problems.join("; ")));
        (out, note)
    }

    /// Each doctest's own map, from the doc lane's profiles: rustdoc wraps
    /// an example in `_doctest_main_<file>_<line>_<n>`, which names the
    /// doctest whose process wrote the profile; the workspace's functions
    /// in it are read against the package's other instrumented binaries,
    /// which link the same library build. A profile holding several
    /// examples (merged doctests, one process) is each one's map. Library
    /// code no binary maps makes the map partial (always selected).
    pub(super) fn doc_maps(
        &self,
        all: &BTreeMap<String, PathBuf>,
        tests: &[TestKey],
        mappings: &mut Mappings,
    ) -> Vec<(TestKey, TestMap)> {
        let wrappers: Vec<(String, &TestKey)> = tests
            .iter()
            .filter(|t| t.0.ends_with("::doc"))
            .filter_map(|t| doc_wrapper(&t.1).map(|w| (w, t)))
            .collect();
        if wrappers.is_empty() {
            return Vec::new();
        }
        let Ok(dir) = std::fs::read_dir(self.doc_profile_dir()) else {
            return Vec::new();
        };
        let Mappings { by_binary, executables } = mappings;
        // doctest → its lines, the functions not placed, what its
        // processes read (`None`: untraced).
        type Found = (BTreeMap<PathBuf, profile::Ran>, usize, Option<Vec<String>>);
        let mut found: BTreeMap<&TestKey, Found> = BTreeMap::new();
        // What the profiles no doctest's name is in ran, under a key no
        // test has, and their packages.
        let pooled = TestId::new("", "");
        let mut unnamed: Vec<String> = Vec::new();
        for entry in dir.flatten() {
            if entry.path().extension().is_none_or(|x| x != "profraw") {
                continue;
            }
            let Ok(bytes) = std::fs::read(entry.path()) else {
                continue;
            };
            // `<pid>-<module>.profraw`: the tracer's record of the same
            // process is `<pid>.reads`.
            let name = entry.file_name().to_string_lossy().into_owned();
            let pid = name.split_once('-').map(|(pid, _)| pid);
            let beside = |ext: &str| pid.map(|pid| entry.path().with_file_name(format!("{pid}.{ext}")));
            let reads = beside("reads").and_then(|p| std::fs::read_to_string(p).ok());
            let (Ok(names), Ok(records)) = (profile::profraw_names(&bytes), profile::parse_profraw(&bytes)) else {
                continue;
            };
            // The example's own mapping, where the tracer kept it
            // (`<pid>.mapping`): its profile read against its own binary.
            let own = beside("mapping")
                .and_then(|p| std::fs::read(p).ok())
                .and_then(|kept| own_mapping(&kept));
            let mut keys: Vec<&TestKey> = wrappers
                .iter()
                .filter(|(w, _)| names.values().any(|n| n.contains(w.as_str())))
                .map(|(_, k)| *k)
                .collect();
            if let (true, Some(own)) = (keys.is_empty(), &own) {
                // Unwrapped (its own `main`): the example's own code says
                // where it is written, and so which doctest it is.
                let example: Vec<profile::Record> = records
                    .iter()
                    .filter(|r| {
                        names
                            .get(&r.name_ref)
                            .is_some_and(|n| defining_crate(n) == Some("rust_out"))
                    })
                    .cloned()
                    .collect();
                let mut at = BTreeMap::new();
                place(own, &example, &mut at);
                keys.extend(example_at(&at, &wrappers));
            }
            // An example with its own `main` is not wrapped: nothing in
            // its profile names it. Such profiles are pooled (below).
            let package = match keys.first() {
                Some(first) => first.0.trim_end_matches("::doc").to_owned(),
                None => match own_main_package(&names, &wrappers) {
                    Some(p) => p,
                    None => continue,
                },
            };
            // What the example's own crate (`rust_out`) defines is not
            // workspace code; the workspace's generic code it instantiates
            // is (named after the example's crate too, so it is placed in
            // no other binary: the map is then partial, never short).
            let workspace: Vec<profile::Record> = records
                .into_iter()
                .filter(|r| {
                    names
                        .get(&r.name_ref)
                        .is_none_or(|n| defining_crate(n) != Some("rust_out"))
                })
                .collect();
            let ids: Vec<&String> = all
                .keys()
                .filter(|id| **id == package || id.starts_with(&format!("{package}::")))
                .collect();
            for id in &ids {
                by_binary
                    .entry((*id).clone())
                    .or_insert_with(|| CoverageMap::read(&all[*id]).ok());
            }
            let mut lines = BTreeMap::new();
            let mut rest = workspace;
            if let Some(own) = &own {
                rest = place(own, &rest, &mut lines);
            }
            for m in ids.iter().filter_map(|id| by_binary.get(*id).and_then(Option::as_ref)) {
                if rest.is_empty() {
                    break;
                }
                rest = place(m, &rest, &mut lines);
            }
            if !rest.is_empty() {
                for m in executables.get_or_insert_with(|| self.executable_mappings()).iter() {
                    rest = place(m, &rest, &mut lines);
                }
            }
            if !rest.is_empty() {
                // The workspace's generic code the example instantiated:
                // the same instance in one of the package's binaries.
                for id in &ids {
                    if let Some(Some(m)) = by_binary.get_mut(*id) {
                        m.index_instances(&all[*id]);
                    }
                }
                rest.retain(|r| {
                    !ids.iter()
                        .filter_map(|id| by_binary.get(*id).and_then(Option::as_ref))
                        .any(|m| {
                            let own = m.place_instances(std::slice::from_ref(r), &names);
                            !own.is_empty() && place(m, &own, &mut lines).is_empty()
                        })
                });
            }
            let keys = if keys.is_empty() {
                unnamed.push(package.clone());
                vec![&pooled]
            } else {
                keys
            };
            for k in keys {
                let slot = found.entry(k).or_default();
                for (path, set) in &lines {
                    slot.0.entry(path.clone()).or_default().extend(set);
                }
                slot.1 += rest.len();
                if let Some(text) = &reads {
                    slot.2.get_or_insert_with(Vec::new).push(text.clone());
                }
            }
        }
        // The pool is the map of each doctest of those packages that ran
        // and that no profile named: the union of what they all ran holds
        // what each one ran, so it selects each one at least when it should.
        let pool = found.remove(&pooled);
        let mut shared: BTreeSet<&TestKey> = BTreeSet::new();
        if let Some(pool) = pool {
            unnamed.sort();
            unnamed.dedup();
            let alone: Vec<&TestKey> = wrappers
                .iter()
                .map(|(_, k)| *k)
                .filter(|k| !found.contains_key(k) && unnamed.iter().any(|p| k.0 == format!("{p}::doc")))
                .collect();
            // One such doctest: the pool is its own map.
            if alone.len() > 1 {
                shared.extend(alone.iter().copied());
            }
            for k in alone {
                found.insert(k, pool.clone());
            }
        }
        let sources = self.dir.join("sources");
        let mut hashes = HashMap::new();
        let mut read_hashes = crate::adapters::reads::Hashes::kept(&self.dir);
        let maps = found
            .into_iter()
            .map(|(key, (lines, unplaced, reads))| {
                let mut map = TestMap::default();
                map.shared = shared.contains(key).then(|| {
                    "a map it shares with the doctests that define their own `main`, which vigil cannot tell apart"
                        .to_owned()
                });
                map.reads = reads.map(|texts| crate::adapters::reads::parse(&texts, &self.root, &mut read_hashes));
                for (path, set) in lines {
                    if let Some((rel, hash)) = self.measured_file(&path, &sources, &mut hashes) {
                        map.files.insert(rel, file_map(hash, set));
                    }
                }
                if unplaced > 0 {
                    map.partial = Some(format!(
                        "{unplaced} of the library's functions it ran are in no other test binary of its package"
                    ));
                }
                (key.clone(), map)
            })
            .collect();
        read_hashes.keep();
        maps
    }
}
