//! LLVM's coverage data read natively, for per-test maps: a raw profile
//! (`.profraw`, format version 10, what rustc's LLVM 19–22 writes) and the
//! coverage mapping of an ELF test binary (`__llvm_covmap` and
//! `__llvm_covfun`, mapping format 7). One test's profile becomes the
//! source lines it ran without spawning llvm-profdata and llvm-cov per
//! test (a thousand tests would take minutes that way).
//!
//! Line attribution follows llvm-cov's: a line counts as run when a region
//! starting on it ran, or when the innermost region around its start ran.
//! The whole-run figures still come from llvm-cov itself. Here: the map of
//! a binary and what a profile ran in it; `raw` the profile, `mapping` the
//! mapping's encoding, `elf` the sections it is stored in.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

mod elf;
mod mapping;
mod raw;

use elf::*;
use mapping::*;
pub use raw::*;

/// Why a profile or a binary's mapping could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("failed to read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {why}")]
    Format { path: PathBuf, why: String },
}

/// One function's counters in a raw profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// MD5 of the function's name (its low 64 bits).
    pub name_ref: u64,
    /// Structural hash: the same name with another hash is another build.
    pub func_hash: u64,
    pub counters: Vec<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Code,
    Gap,
    Skipped,
    Other,
}

#[derive(Clone, Debug)]
struct Region {
    counter: u64,
    kind: Kind,
    line_start: u32,
    col_start: u32,
    line_end: u32,
}

/// For one source line of a function: the regions that start on it and
/// the innermost one around its start.
#[derive(Clone, Debug)]
struct Line {
    file: u32,
    line: u32,
    starts: Vec<u32>,
    wrap: Option<u32>,
}

/// A branch region: where its condition starts, and the counters of its
/// two outcomes (true, false).
#[derive(Clone, Debug)]
struct Branch {
    file: u32,
    line: u32,
    col: u32,
    t: u64,
    f: u64,
}

#[derive(Clone, Debug)]
struct Function {
    expressions: Vec<(u64, u64)>,
    counters: Vec<u64>,
    lines: Vec<Line>,
    /// Empty unless built with branch coverage (`-Z coverage-options=branch`).
    branches: Vec<Branch>,
}

/// What a profile ran in one file: its lines, and the branch outcomes
/// taken (line, column of the condition, `true` for the true outcome).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ran {
    pub lines: BTreeSet<u32>,
    pub branches: BTreeSet<(u32, u32, bool)>,
}

impl Ran {
    pub fn extend(&mut self, other: &Ran) {
        self.lines.extend(&other.lines);
        self.branches.extend(&other.branches);
    }
}

/// A test binary's coverage mapping: every instrumented function's source
/// regions, by (name hash, structural hash).
#[derive(Debug, Default)]
pub struct CoverageMap {
    functions: HashMap<(u64, u64), Function>,
    /// Source paths, indexed by the file numbers lines carry.
    pub files: Vec<PathBuf>,
    /// Functions by what their generic instances share
    /// (`generic_identity`) and structural hash → their own name hash
    /// (read on demand).
    instances: Option<HashMap<(String, u64), u64>>,
}

/// What every instance of one generic function shares: its v0 symbol
/// demangled without generic arguments (`format::<u64>` and
/// `format::<i32>` → `format`), without the type a trait's default method
/// was instantiated for (`<Bytes as Buf>::get_u8` → `<_ as Buf>::get_u8`),
/// whichever crate instantiated it, and without the crate's disambiguator
/// (a library built for its unit tests is another crate of the same
/// source). This only buckets: instances of one function are told by the
/// structural hash beside it, a hash of the function's body with its
/// places in the source, so two functions written alike in two places
/// (two impls' `get`, `a::f` and `b::f`) still differ. With both equal,
/// instances have the same counters over the same regions (coverage is
/// laid out before monomorphization). `None`: not a v0 symbol.
pub(crate) fn generic_identity(symbol: &str) -> Option<String> {
    if !symbol.starts_with("_R") {
        return None;
    }
    let demangled = format!("{:#}", rustc_demangle::try_demangle(symbol).ok()?);
    let (head, rest) = match demangled.strip_prefix('<') {
        Some(inner) => {
            let close = group_end(&demangled, 0)?;
            let inner = &inner[..close - 1];
            let head = match top_level_as(inner) {
                Some(at) => format!("<_ as {}>", without_arguments(&inner[at + 4..])),
                None => format!("<{}>", without_arguments(inner)),
            };
            (head, &demangled[close + 1..])
        }
        None => (String::new(), demangled.as_str()),
    };
    Some(head + &without_arguments(rest))
}

/// The index of the `>` closing the `<` at `open` (a fn type's `->` is no
/// closing bracket).
fn group_end(s: &str, open: usize) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut depth = 0usize;
    for i in open..bytes.len() {
        match bytes[i] {
            b'<' => depth += 1,
            b'>' if i == 0 || bytes[i - 1] != b'-' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Where ` as ` splits `<Self as Trait>`, outside any brackets.
fn top_level_as(inner: &str) -> Option<usize> {
    let bytes = inner.as_bytes();
    let mut depth = 0i32;
    for i in 0..bytes.len() {
        match bytes[i] {
            b'<' | b'[' | b'(' => depth += 1,
            b'>' if i == 0 || bytes[i - 1] != b'-' => depth -= 1,
            b']' | b')' => depth -= 1,
            b' ' if depth == 0 && inner[i..].starts_with(" as ") => return Some(i),
            _ => {}
        }
    }
    None
}

/// A path with its generic argument lists (`::<…>`, `Vec<u8>`) taken out.
fn without_arguments(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut at = 0;
    while let Some(open) = path[at..].find('<').map(|i| at + i) {
        let kept = &path[at..open];
        out.push_str(kept.strip_suffix("::").unwrap_or(kept));
        let Some(close) = group_end(path, open) else {
            out.push_str(&path[open..]);
            return out;
        };
        at = close + 1;
    }
    out.push_str(&path[at..]);
    out
}

impl CoverageMap {
    /// Reads the mapping of an ELF test binary built with
    /// `-C instrument-coverage`.
    pub fn read(binary: &Path) -> Result<Self, ProfileError> {
        let format = |why: String| ProfileError::Format {
            path: binary.to_owned(),
            why,
        };
        let sections = elf_sections(binary, &["__llvm_covmap", "__llvm_covfun"]).map_err(|e| match e {
            ElfError::Io(source) => ProfileError::Read {
                path: binary.to_owned(),
                source,
            },
            ElfError::Format(why) => format(why),
        })?;
        let [Some(covmap), Some(covfun)] = [&sections[0], &sections[1]] else {
            return Err(format(
                "no coverage mapping: not built with -C instrument-coverage".into(),
            ));
        };
        Self::from_sections(covmap, covfun).map_err(format)
    }

    /// Reads a mapping from the two sections' bytes (what `read` finds in
    /// the binary; public for the fuzz targets).
    pub fn from_sections(covmap: &[u8], covfun: &[u8]) -> Result<Self, String> {
        let mut map = CoverageMap::default();
        // Each compilation unit's file names, by the hash functions name them with.
        let mut tables: HashMap<u64, Vec<u32>> = HashMap::new();
        let mut at = 0;
        while at + 16 <= covmap.len() {
            let size = u32_at(covmap, at + 4).ok_or("truncated covmap")? as usize;
            let version = u32_at(covmap, at + 12).ok_or("truncated covmap")?;
            if !(5..=6).contains(&version) {
                return Err(format!(
                    "coverage mapping format {} (vigil reads 6–7, LLVM 13–22)",
                    version + 1
                ));
            }
            let blob = covmap.get(at + 16..at + 16 + size).ok_or("truncated covmap")?;
            let hash = name_hash(blob);
            let names = decode_filenames(blob)?;
            let mut ids = Vec::with_capacity(names.len());
            for name in names {
                ids.push(map.file_id(name));
            }
            tables.insert(hash, ids);
            at = (at + 16 + size).next_multiple_of(8);
        }
        let mut at = 0;
        while at + 28 <= covfun.len() {
            let name_ref = u64_at(covfun, at).ok_or("truncated covfun")?;
            let size = u32_at(covfun, at + 8).ok_or("truncated covfun")? as usize;
            let func_hash = u64_at(covfun, at + 12).ok_or("truncated covfun")?;
            let files_ref = u64_at(covfun, at + 20).ok_or("truncated covfun")?;
            let data = covfun.get(at + 28..at + 28 + size).ok_or("truncated covfun")?;
            at = (at + 28 + size).next_multiple_of(8);
            // A function never used (hash 0) runs in no test.
            if func_hash == 0 || map.functions.contains_key(&(name_ref, func_hash)) {
                continue;
            }
            let Some(files) = tables.get(&files_ref) else {
                continue;
            };
            let f = decode_function(data, files)?;
            map.functions.insert((name_ref, func_hash), f);
        }
        Ok(map)
    }

    fn file_id(&mut self, path: PathBuf) -> u32 {
        if let Some(i) = self.files.iter().position(|p| *p == path) {
            return i as u32;
        }
        self.files.push(path);
        (self.files.len() - 1) as u32
    }

    /// Indexes this binary's generic instances by name (its
    /// `__llvm_prf_names`), once: see `place_instances`.
    pub(crate) fn index_instances(&mut self, binary: &Path) {
        if self.instances.is_some() {
            return;
        }
        let names = elf_sections(binary, &["__llvm_prf_names"])
            .ok()
            .and_then(|mut s| s.pop().flatten())
            .and_then(|b| parse_names(&b).ok())
            .unwrap_or_default();
        let mut index = HashMap::new();
        for &(name_ref, func_hash) in self.functions.keys() {
            if let Some(key) = names.get(&name_ref).and_then(|n| generic_identity(n)) {
                index.insert((key, func_hash), name_ref);
            }
        }
        self.instances = Some(index);
    }

    /// Records of generic instances another crate made (a doctest's
    /// example) renamed to this binary's own instance of the same
    /// function, where it has one: the same function (`generic_identity`),
    /// with the same or other generic arguments, and the same structural
    /// hash, so the same counters over the same regions.
    pub(crate) fn place_instances(&self, records: &[Record], names: &HashMap<u64, String>) -> Vec<Record> {
        let Some(index) = &self.instances else {
            return Vec::new();
        };
        records
            .iter()
            .filter_map(|r| {
                let key = generic_identity(names.get(&r.name_ref)?)?;
                let own = index.get(&(key, r.func_hash))?;
                Some(Record {
                    name_ref: *own,
                    ..r.clone()
                })
            })
            .collect()
    }

    /// The lines and branch outcomes a profile's records ran, per file
    /// number; returns the records that ran and that this mapping does not
    /// hold (another binary's functions: a process the test started).
    pub fn covered<'r>(&self, records: &'r [Record], out: &mut BTreeMap<u32, Ran>) -> Vec<&'r Record> {
        let mut counts = Vec::new();
        let mut elsewhere = Vec::new();
        for r in records {
            if r.counters.iter().all(|&c| c == 0) {
                continue;
            }
            let Some(f) = self.functions.get(&(r.name_ref, r.func_hash)) else {
                elsewhere.push(r);
                continue;
            };
            counts.clear();
            counts.extend(f.counters.iter().map(|&c| f.eval(c, &r.counters, 0)));
            for l in &f.lines {
                let ran =
                    l.starts.iter().any(|&i| counts[i as usize] > 0) || l.wrap.is_some_and(|w| counts[w as usize] > 0);
                if ran {
                    out.entry(l.file).or_default().lines.insert(l.line);
                }
            }
            for b in &f.branches {
                for (counter, side) in [(b.t, true), (b.f, false)] {
                    if f.eval(counter, &r.counters, 0) > 0 {
                        out.entry(b.file).or_default().branches.insert((b.line, b.col, side));
                    }
                }
            }
        }
        elsewhere
    }
}

/// The low 64 bits of MD5, as LLVM names functions and file tables.
pub(crate) fn name_hash(bytes: &[u8]) -> u64 {
    let d = md5::compute(bytes);
    u64::from_le_bytes(d.0[..8].try_into().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leb(mut v: u64, out: &mut Vec<u8>) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }

    /// A function in one file: region 0 (lines 1–5, counter 0) around
    /// region 1 (lines 3–4, counter 1); region 2 (line 5) is counter0 − counter1.
    fn function() -> Function {
        let mut d = Vec::new();
        for v in [1, 0, 1] {
            leb(v, &mut d); // one file (table entry 0); one expression
        }
        leb(1, &mut d); // expression 0: counter 0 …
        leb((1 << 2) | 1, &mut d); // … minus counter 1
        leb(3, &mut d); // three regions
        for (counter, delta, col, lines, end) in [
            (1u64, 1u64, 1u64, 4u64, 2u64),
            ((1 << 2) | 1, 2, 5, 1, 6),
            (2, 2, 1, 0, 2),
        ] {
            for v in [counter, delta, col, lines, end] {
                leb(v, &mut d);
            }
        }
        decode_function(&d, &[7]).unwrap()
    }

    /// What one record of `f` with `counters` ran in file 7.
    fn ran(f: &Function, counters: &[u64]) -> Ran {
        let mut map = CoverageMap::default();
        map.functions.insert((1, 2), f.clone());
        let mut out = BTreeMap::new();
        map.covered(
            &[Record {
                name_ref: 1,
                func_hash: 2,
                counters: counters.to_vec(),
            }],
            &mut out,
        );
        out.remove(&7).unwrap_or_default()
    }

    fn lines(f: &Function, counters: &[u64]) -> Vec<u32> {
        ran(f, counters).lines.into_iter().collect()
    }

    #[test]
    fn nested_regions_decide_their_lines() {
        let f = function();
        // Only the outer region ran. Line 3 begins inside it (the inner
        // region starts at column 5), so it ran, as llvm-cov counts it;
        // line 4 begins inside the inner region, which did not.
        assert_eq!(lines(&f, &[1, 0]), vec![1, 2, 3, 5]);
        // Both ran, and the expression (1 − 1) left line 5's own region at 0,
        // but line 5 is still inside the outer region, which ran.
        assert_eq!(lines(&f, &[1, 1]), vec![1, 2, 3, 4, 5]);
        assert_eq!(lines(&f, &[0, 0]), Vec::<u32>::new());
    }

    #[test]
    fn a_branch_region_gives_the_outcomes_its_counters_took() {
        // One region (counter 0, line 2) and a branch at line 2 column 9:
        // true is counter 1, false is counter 0 − counter 1.
        let mut d = Vec::new();
        for v in [1, 0, 1, 1, (1 << 2) | 1, 2] {
            leb(v, &mut d);
        }
        for v in [1u64, 2, 1, 0, 20] {
            leb(v, &mut d);
        }
        for v in [4u64 << 3, (1 << 2) | 1, 2, 0, 9, 0, 14] {
            leb(v, &mut d);
        }
        let f = decode_function(&d, &[7]).unwrap();
        let taken = |counters: &[u64]| ran(&f, counters).branches.into_iter().collect::<Vec<_>>();
        assert_eq!(taken(&[3, 3]), vec![(2, 9, true)], "always true");
        assert_eq!(taken(&[3, 1]), vec![(2, 9, false), (2, 9, true)], "both ways");
        assert_eq!(taken(&[2, 0]), vec![(2, 9, false)], "never true");
    }

    #[test]
    fn instances_of_one_generic_function_share_an_identity() {
        // Made by a doctest's example and by a test crate, with other arguments.
        let by_example = "_RINvMs1_Cs7CEKRu5CMcy_4itoaNtB6_6Buffer6formatyECsdqsnfIJc26X_8rust_out";
        let by_test = "_RINvMs1_Cs7CEKRu5CMcy_4itoaNtB6_6Buffer6formatlECs1a2b3c_4test";
        assert_eq!(generic_identity(by_example).as_deref(), Some("<itoa::Buffer>::format"));
        assert_eq!(generic_identity(by_test).as_deref(), Some("<itoa::Buffer>::format"));
        // An inline function's local copy is the function itself.
        assert_eq!(
            generic_identity("_RNvMs1_Cs7CEKRu5CMcy_4itoaNtB5_6Buffer3newCsdqsnfIJc26X_8rust_out"),
            generic_identity("_RNvMs1_Cs7CEKRu5CMcy_4itoaNtB5_6Buffer3new")
        );
        // A default method instantiated for two types (`Y` paths): one
        // function (and one structural hash, as rustc makes it).
        assert_eq!(
            generic_identity("_RNvYNtCs6df11CZk0Wi_2hh1ANtB4_1T4dfltB4_").as_deref(),
            Some("<_ as hh::T>::dflt")
        );
        assert_eq!(
            generic_identity("_RNvYNtCs6df11CZk0Wi_2hh1ANtB4_1T4dfltB4_"),
            generic_identity("_RNvYNtCs6df11CZk0Wi_2hh1BNtB4_1T4dfltB4_")
        );
        // The library built for its unit tests is the same source.
        assert_eq!(
            generic_identity("_RNvXsb_CsahJyfculd6G_4itoalNtNtB5_7private6Sealed5writeB5_"),
            generic_identity("_RNvXsb_Cs7CEKRu5CMcy_4itoalNtNtB5_7private6Sealed5writeCsdqsnfIJc26X_8rust_out")
        );
        // Legacy mangling is not read.
        assert_eq!(generic_identity("_ZN4docs3add17h0123456789abcdefE"), None);
    }

    #[test]
    fn generic_arguments_come_out_of_a_path_whatever_they_hold() {
        assert_eq!(without_arguments("a::b::<u8>::{closure#0}"), "a::b::{closure#0}");
        assert_eq!(without_arguments("a::Vec<fn(u8) -> u8>::f"), "a::Vec::f");
        assert_eq!(without_arguments("f::<[u8; 3], (A<B>, C)>"), "f");
        assert_eq!(top_level_as("&[u8] as bytes::Buf"), Some(5));
        assert_eq!(top_level_as("Vec<A as B>"), None);
    }

    #[test]
    fn raw_formats_10_and_11_read_alike() {
        let v10 = include_bytes!("../../../tests/fixtures/profiles/llvm22-v10.profraw");
        let v11 = include_bytes!("../../../tests/fixtures/profiles/llvm23-v11.profraw");
        let read = |bytes: &[u8]| {
            let names = profraw_names(bytes).unwrap();
            let mut out: Vec<(String, Vec<u64>)> = parse_profraw(bytes)
                .unwrap()
                .into_iter()
                .map(|r| (generic_identity(&names[&r.name_ref]).unwrap(), r.counters))
                .collect();
            out.sort();
            out
        };
        let (a, b) = (read(v10), read(v11));
        assert_eq!(a.len(), 7, "{a:?}");
        assert!(a.iter().any(|(n, c)| n == "hh::one" && c == &[1]), "{a:?}");
        assert_eq!(a, b);
        // A part of format 11 vigil does not know of is said, not misread.
        let mut unknown = v11.to_vec();
        unknown[9 * 8] = 1;
        assert!(parse_profraw(&unknown).unwrap_err().contains("header word 9"));
    }

    #[test]
    fn bad_profiles_say_what_is_wrong() {
        assert!(parse_profraw(b"nonsense")
            .unwrap_err()
            .contains("not an LLVM raw profile"));
        let mut old = MAGIC.to_le_bytes().to_vec();
        old.extend(8u64.to_le_bytes());
        assert!(parse_profraw(&old).unwrap_err().contains("format 8"));
        let mut short = MAGIC.to_le_bytes().to_vec();
        short.extend(10u64.to_le_bytes());
        assert!(parse_profraw(&short).unwrap_err().contains("truncated"));
    }

    #[test]
    fn file_names_are_joined_to_the_compilation_directory() {
        let mut raw = Vec::new();
        for name in ["/w", "src/lib.rs", "/abs/x.rs"] {
            leb(name.len() as u64, &mut raw);
            raw.extend(name.as_bytes());
        }
        let mut blob = Vec::new();
        leb(3, &mut blob);
        leb(raw.len() as u64, &mut blob);
        leb(0, &mut blob);
        blob.extend(&raw);
        let names = decode_filenames(&blob).unwrap();
        assert_eq!(
            names,
            vec![
                PathBuf::from("/w"),
                PathBuf::from("/w/src/lib.rs"),
                PathBuf::from("/abs/x.rs")
            ]
        );
    }
}
