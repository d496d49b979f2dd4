//! LLVM's coverage data read natively, for per-test maps: a raw profile
//! (`.profraw`, format version 10, what rustc's LLVM 19–22 writes) and the
//! coverage mapping of an ELF test binary (`__llvm_covmap` and
//! `__llvm_covfun`, mapping format 7). One test's profile becomes the
//! source lines it ran without spawning llvm-profdata and llvm-cov per
//! test (a thousand tests would take minutes that way).
//!
//! Line attribution follows llvm-cov's: a line counts as run when a region
//! starting on it ran, or when the innermost region around its start ran.
//! The whole-run figures still come from llvm-cov itself.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

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

const MAGIC: u64 = 0xff6c_7072_6f66_7281;
/// Version-word flag: one byte per counter, 0 meaning "ran".
const BYTE_COVERAGE: u64 = 1 << 60;
const HEADER_WORDS: usize = 16;
/// `__llvm_profile_data` in version 10: six 8-byte fields, the counter
/// count, three value-site counts and the bitmap size, padded to 8.
const DATA_SIZE: usize = 64;

fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(off..off + 8)?.try_into().ok()?))
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(off..off + 2)?.try_into().ok()?))
}

/// The functions of a raw profile with their counters.
pub fn parse_profraw(bytes: &[u8]) -> Result<Vec<Record>, String> {
    let truncated = || "truncated raw profile".to_owned();
    if u64_at(bytes, 0) != Some(MAGIC) {
        return Err("not an LLVM raw profile (64-bit little-endian)".into());
    }
    let word = u64_at(bytes, 8).ok_or_else(truncated)?;
    let version = word & 0xffff_ffff;
    if version != 10 {
        return Err(format!(
            "raw profile format {version}; vigil reads format 10 (rustc with LLVM 19–22)"
        ));
    }
    let byte_counters = word & BYTE_COVERAGE != 0;
    let h = |i: usize| u64_at(bytes, i * 8).ok_or_else(truncated);
    let (ids_size, num_data, pad_before, num_counters, counters_delta) = (h(2)?, h(3)?, h(4)?, h(5)?, h(10)?);
    let size = if byte_counters { 1 } else { 8 };
    let data_start = HEADER_WORDS * 8 + ids_size as usize;
    let counters_start = data_start
        .checked_add((num_data as usize).checked_mul(DATA_SIZE).ok_or_else(truncated)?)
        .and_then(|x| x.checked_add(pad_before as usize))
        .ok_or_else(truncated)?;
    let counters_len = (num_counters as usize).checked_mul(size).ok_or_else(truncated)?;
    let counters = bytes
        .get(counters_start..counters_start.checked_add(counters_len).ok_or_else(truncated)?)
        .ok_or_else(truncated)?;
    let mut out = Vec::with_capacity(num_data as usize);
    for i in 0..num_data as usize {
        let rec = data_start + i * DATA_SIZE;
        let name_ref = u64_at(bytes, rec).ok_or_else(truncated)?;
        let func_hash = u64_at(bytes, rec + 8).ok_or_else(truncated)?;
        let counter_ptr = u64_at(bytes, rec + 16).ok_or_else(truncated)?;
        let n = u32_at(bytes, rec + 48).ok_or_else(truncated)? as usize;
        // The record's counter pointer is relative to the record itself;
        // the header's delta is the counters' start relative to the first
        // record, so it moves back one record size per record.
        let delta = counters_delta.wrapping_sub((i * DATA_SIZE) as u64);
        let offset = counter_ptr.wrapping_sub(delta) as usize;
        let slice = offset
            .checked_add(n * size)
            .and_then(|end| counters.get(offset..end))
            .ok_or_else(|| format!("function {name_ref:016x}'s counters lie outside the profile"))?;
        let counters = if byte_counters {
            slice.iter().map(|&b| u64::from(b == 0)).collect()
        } else {
            slice
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
                .collect()
        };
        out.push(Record {
            name_ref,
            func_hash,
            counters,
        });
    }
    Ok(out)
}

/// The function names a raw profile carries (its names section: chunks of
/// `\x01`-separated names, each zlib-compressed or not), by name hash.
pub fn profraw_names(bytes: &[u8]) -> Result<HashMap<u64, String>, String> {
    let truncated = || "truncated raw profile".to_owned();
    if u64_at(bytes, 0) != Some(MAGIC) {
        return Err("not an LLVM raw profile (64-bit little-endian)".into());
    }
    let word = u64_at(bytes, 8).ok_or_else(truncated)?;
    let size = if word & BYTE_COVERAGE != 0 { 1 } else { 8 };
    let h = |i: usize| u64_at(bytes, i * 8).map(|v| v as usize).ok_or_else(truncated);
    let mut at = HEADER_WORDS * 8;
    for part in [
        h(2)?,
        h(3)?.checked_mul(DATA_SIZE).ok_or_else(truncated)?,
        h(4)?,
        h(5)?.checked_mul(size).ok_or_else(truncated)?,
        h(6)?,
        h(7)?,
        h(8)?,
    ] {
        at = at.checked_add(part).ok_or_else(truncated)?;
    }
    let names = bytes
        .get(at..at.checked_add(h(9)?).ok_or_else(truncated)?)
        .ok_or_else(truncated)?;
    parse_names(names)
}

/// A names section (a raw profile's, or a binary's `__llvm_prf_names`):
/// chunks of `\x01`-separated names, each zlib-compressed or not.
fn parse_names(names: &[u8]) -> Result<HashMap<u64, String>, String> {
    let mut c = Cursor { b: names, at: 0 };
    let mut out = HashMap::new();
    while c.at < names.len() {
        let uncompressed = c.leb()? as usize;
        let compressed = c.leb()? as usize;
        let chunk = if compressed == 0 {
            c.bytes(uncompressed)?.to_vec()
        } else {
            let z = c.bytes(compressed)?;
            miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(z, uncompressed)
                .map_err(|e| format!("names section does not inflate: {e:?}"))?
        };
        for name in chunk.split(|&b| b == 1).filter(|n| !n.is_empty()) {
            out.insert(name_hash(name), String::from_utf8_lossy(name).into_owned());
        }
        // Padding to 8 bytes ends the section (zeros: no more chunks).
        if names[c.at..].iter().all(|&b| b == 0) {
            break;
        }
    }
    Ok(out)
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

#[derive(Clone, Debug)]
struct Function {
    expressions: Vec<(u64, u64)>,
    counters: Vec<u64>,
    lines: Vec<Line>,
}

/// A test binary's coverage mapping: every instrumented function's source
/// regions, by (name hash, structural hash).
#[derive(Debug, Default)]
pub struct CoverageMap {
    functions: HashMap<(u64, u64), Function>,
    /// Source paths, indexed by the file numbers lines carry.
    pub files: Vec<PathBuf>,
    /// Generic instances by their name without the instantiating crate,
    /// and structural hash → their own name hash (read on demand).
    instances: Option<HashMap<(String, u64), u64>>,
}

/// A v0 symbol of a generic instance without the crate that instantiated
/// it (`…get_u8RShECs…_8rust_out` → `…get_u8RShE`): the same instance
/// made in another crate has the same name up to there. `None`: no such
/// suffix (not generic, or legacy mangling).
pub(crate) fn without_instantiating_crate(symbol: &str) -> Option<&str> {
    if !symbol.starts_with("_R") {
        return None;
    }
    for (at, _) in symbol.match_indices('C').collect::<Vec<_>>().into_iter().rev() {
        let mut rest = &symbol[at + 1..];
        if let Some(after) = rest.strip_prefix('s') {
            let Some(end) = after.find('_') else { continue };
            if !after[..end].bytes().all(|b| b.is_ascii_alphanumeric()) {
                continue;
            }
            rest = &after[end + 1..];
        }
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let Ok(len) = rest[..digits].parse::<usize>() else {
            continue;
        };
        let name = &rest[digits..];
        if digits > 0 && name.len() == len && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return (at > 2).then(|| &symbol[..at]);
        }
    }
    None
}

struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn leb(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        let mut shift = 0;
        loop {
            let byte = *self.b.get(self.at).ok_or("truncated mapping")?;
            self.at += 1;
            if shift < 64 {
                value |= u64::from(byte & 0x7f) << shift;
            }
            if byte & 0x80 == 0 {
                return Ok(value);
            }
            shift += 7;
            if shift > 70 {
                return Err("malformed number in mapping".into());
            }
        }
    }

    fn small(&mut self) -> Result<u32, String> {
        u32::try_from(self.leb()?).map_err(|_| "number out of range in mapping".to_owned())
    }

    fn bytes(&mut self, n: usize) -> Result<&[u8], String> {
        let s = self.b.get(self.at..self.at + n).ok_or("truncated mapping")?;
        self.at += n;
        Ok(s)
    }
}

/// Counter encoding: two tag bits (zero, counter, subtract, add).
const TAG_BITS: u32 = 2;

fn decode_filenames(blob: &[u8]) -> Result<Vec<PathBuf>, String> {
    let mut c = Cursor { b: blob, at: 0 };
    let n = c.leb()? as usize;
    let uncompressed = c.leb()? as usize;
    let compressed = c.leb()? as usize;
    let owned;
    let mut names = if compressed > 0 {
        let z = c.bytes(compressed)?;
        owned = miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(z, uncompressed)
            .map_err(|e| format!("compressed file names do not inflate: {e:?}"))?;
        Cursor { b: &owned, at: 0 }
    } else {
        Cursor {
            b: &blob[c.at..],
            at: 0,
        }
    };
    // Each name takes a byte at least: a count beyond that is corrupt, not
    // an allocation to make (found by fuzzing).
    let mut out: Vec<PathBuf> = Vec::with_capacity(n.min(blob.len()));
    for i in 0..n {
        let len = names.leb()? as usize;
        let name = PathBuf::from(String::from_utf8_lossy(names.bytes(len)?).into_owned());
        // The first name is the compilation directory; the others are
        // relative to it unless absolute.
        let path = if i == 0 || name.is_absolute() {
            name
        } else {
            out[0].join(name)
        };
        out.push(path);
    }
    Ok(out)
}

fn decode_function(data: &[u8], files: &[u32]) -> Result<Function, String> {
    let mut c = Cursor { b: data, at: 0 };
    let num_files = c.leb()? as usize;
    let mut mapping = Vec::with_capacity(num_files.min(data.len()));
    for _ in 0..num_files {
        let i = c.leb()? as usize;
        mapping.push(*files.get(i).ok_or("file index outside the file table")?);
    }
    let num_expr = c.leb()? as usize;
    let mut expressions = Vec::with_capacity(num_expr.min(1 << 16));
    for _ in 0..num_expr {
        expressions.push((c.leb()?, c.leb()?));
    }
    let mut regions: Vec<(u32, Region)> = Vec::new();
    for &file in &mapping {
        let n = c.leb()? as usize;
        let mut line = 0u32;
        for _ in 0..n {
            let encoded = c.leb()?;
            let tag = encoded & ((1 << TAG_BITS) - 1);
            let mut kind = Kind::Code;
            let mut counter = 0;
            if tag != 0 {
                counter = encoded;
            } else if encoded & (1 << TAG_BITS) != 0 {
                kind = Kind::Other; // an expansion
            } else {
                match encoded >> (TAG_BITS + 1) {
                    0 => {}
                    2 => kind = Kind::Skipped,
                    4 => {
                        kind = Kind::Other; // a branch: two counters
                        c.leb()?;
                        c.leb()?;
                    }
                    5 => {
                        kind = Kind::Other; // an MC/DC decision
                        c.leb()?;
                        c.leb()?;
                    }
                    6 => {
                        kind = Kind::Other; // an MC/DC branch
                        for _ in 0..5 {
                            c.leb()?;
                        }
                    }
                    k => return Err(format!("unknown region kind {k}")),
                }
            }
            line = line.checked_add(c.small()?).ok_or("line out of range")?;
            let col_start = c.small()?;
            let num_lines = c.small()?;
            let col_end = c.small()?;
            if col_end & (1 << 31) != 0 && kind == Kind::Code {
                kind = Kind::Gap;
            }
            regions.push((
                file,
                Region {
                    counter,
                    kind,
                    line_start: line,
                    col_start,
                    line_end: line.saturating_add(num_lines),
                },
            ));
        }
    }
    Ok(Function {
        expressions,
        counters: regions.iter().map(|(_, r)| r.counter).collect(),
        lines: lines_of(&regions),
    })
}

/// Each line a function's regions span, with the regions that decide it.
fn lines_of(regions: &[(u32, Region)]) -> Vec<Line> {
    let mut by_file: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (i, (file, r)) in regions.iter().enumerate() {
        if matches!(r.kind, Kind::Code | Kind::Gap | Kind::Skipped) {
            by_file.entry(*file).or_default().push(i);
        }
    }
    let mut out = Vec::new();
    for (file, idx) in by_file {
        let Some(first) = idx.iter().map(|&i| regions[i].1.line_start).min() else {
            continue;
        };
        let last = idx.iter().map(|&i| regions[i].1.line_end).max().unwrap_or(first);
        // A malformed mapping must not make a line table of billions.
        let last = last.min(first.saturating_add(100_000));
        for line in first..=last {
            let starts: Vec<u32> = idx
                .iter()
                .copied()
                .filter(|&i| regions[i].1.kind == Kind::Code && regions[i].1.line_start == line)
                .map(|i| i as u32)
                .collect();
            let wrap = idx
                .iter()
                .copied()
                .filter(|&i| regions[i].1.line_start < line && line <= regions[i].1.line_end)
                .max_by_key(|&i| (regions[i].1.line_start, regions[i].1.col_start, i))
                .map(|i| i as u32);
            let wrapped_runs = wrap.is_some_and(|w| regions[w as usize].1.kind != Kind::Skipped);
            if !starts.is_empty() || wrapped_runs {
                out.push(Line {
                    file,
                    line,
                    starts,
                    wrap: wrap.filter(|_| wrapped_runs),
                });
            }
        }
    }
    out
}

impl Function {
    fn eval(&self, c: u64, counters: &[u64], depth: u32) -> u64 {
        if depth > 64 {
            return 0;
        }
        let id = (c >> TAG_BITS) as usize;
        match c & 3 {
            1 => counters.get(id).copied().unwrap_or(0),
            tag @ (2 | 3) => {
                let Some(&(l, r)) = self.expressions.get(id) else {
                    return 0;
                };
                let (l, r) = (self.eval(l, counters, depth + 1), self.eval(r, counters, depth + 1));
                if tag == 2 {
                    l.saturating_sub(r)
                } else {
                    l.saturating_add(r)
                }
            }
            _ => 0,
        }
    }
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
            if let Some(key) = names.get(&name_ref).and_then(|n| without_instantiating_crate(n)) {
                index.insert((key.to_owned(), func_hash), name_ref);
            }
        }
        self.instances = Some(index);
    }

    /// Records of generic instances another crate made (a doctest's
    /// example) renamed to this binary's own instance of the same
    /// function, where it has one: same name up to the instantiating crate,
    /// same structural hash, so the same counters over the same regions.
    pub(crate) fn place_instances(&self, records: &[Record], names: &HashMap<u64, String>) -> Vec<Record> {
        let Some(index) = &self.instances else {
            return Vec::new();
        };
        records
            .iter()
            .filter_map(|r| {
                let key = without_instantiating_crate(names.get(&r.name_ref)?)?;
                let own = index.get(&(key.to_owned(), r.func_hash))?;
                Some(Record {
                    name_ref: *own,
                    ..r.clone()
                })
            })
            .collect()
    }

    /// The lines a profile's records ran, per file number; returns the
    /// records that ran and that this mapping does not hold (another
    /// binary's functions: a process the test started).
    pub fn covered<'r>(&self, records: &'r [Record], out: &mut BTreeMap<u32, BTreeSet<u32>>) -> Vec<&'r Record> {
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
                    out.entry(l.file).or_default().insert(l.line);
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

enum ElfError {
    Io(std::io::Error),
    Format(String),
}

/// The contents of the named sections of a 64-bit little-endian ELF file
/// (`None` where absent), read without loading the whole binary.
fn elf_sections(path: &Path, names: &[&str]) -> Result<Vec<Option<Vec<u8>>>, ElfError> {
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::open(path).map_err(ElfError::Io)?;
    let file_len = file.metadata().map_err(ElfError::Io)?.len();
    let read = |off: u64, len: usize| -> Result<Vec<u8>, ElfError> {
        // Sizes come from the file itself: none may reach past its end
        // (found by fuzzing: a huge size was a huge allocation).
        if off.checked_add(len as u64).is_none_or(|end| end > file_len) {
            return Err(ElfError::Format(
                "an ELF section reaches past the end of the file".into(),
            ));
        }
        let mut buf = vec![0; len];
        file.read_exact_at(&mut buf, off).map_err(ElfError::Io)?;
        Ok(buf)
    };
    let head = read(0, 64)?;
    if &head[..4] != b"\x7fELF" || head[4] != 2 || head[5] != 1 {
        return Err(ElfError::Format("not a 64-bit little-endian ELF binary".into()));
    }
    let bad = || ElfError::Format("malformed ELF section table".into());
    let shoff = u64_at(&head, 0x28).ok_or_else(bad)?;
    let shentsize = u16_at(&head, 0x3a).ok_or_else(bad)? as usize;
    let shnum = u16_at(&head, 0x3c).ok_or_else(bad)? as usize;
    let shstrndx = u16_at(&head, 0x3e).ok_or_else(bad)? as usize;
    if shentsize < 64 || shnum == 0 || shstrndx >= shnum {
        return Err(bad());
    }
    let table = read(shoff, shentsize * shnum)?;
    let header = |i: usize| -> Option<(u32, u64, u64)> {
        let h = &table[i * shentsize..];
        Some((u32_at(h, 0)?, u64_at(h, 24)?, u64_at(h, 32)?))
    };
    let (_, str_off, str_size) = header(shstrndx).ok_or_else(bad)?;
    let strings = read(str_off, str_size as usize)?;
    let mut out = vec![None; names.len()];
    for i in 0..shnum {
        let (name_off, off, size) = header(i).ok_or_else(bad)?;
        let name = strings
            .get(name_off as usize..)
            .and_then(|s| s.split(|&b| b == 0).next())
            .unwrap_or_default();
        if let Some(k) = names.iter().position(|n| n.as_bytes() == name) {
            out[k] = Some(read(off, size as usize)?);
        }
    }
    Ok(out)
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

    fn lines(f: &Function, counters: &[u64]) -> Vec<u32> {
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
        out.get(&7).map(|s| s.iter().copied().collect()).unwrap_or_default()
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
    fn a_generic_instance_is_named_without_the_crate_that_made_it() {
        let made_by_example = "_RINvCsgSHXDb0lhI5_7docmap5twicelECsdqsnfIJc26X_8rust_out";
        let made_by_test = "_RINvCsgSHXDb0lhI5_7docmap5twicelECs1a2b3c_3api";
        assert_eq!(
            without_instantiating_crate(made_by_example),
            Some("_RINvCsgSHXDb0lhI5_7docmap5twicelE")
        );
        assert_eq!(
            without_instantiating_crate(made_by_example),
            without_instantiating_crate(made_by_test)
        );
        // Not generic, or legacy mangling: no suffix to take off.
        assert_eq!(without_instantiating_crate("_RNvCsgSHXDb0lhI5_4docs3add"), None);
        assert_eq!(without_instantiating_crate("_ZN4docs3add17h0123456789abcdefE"), None);
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
