//! A raw profile (`.profraw`, format version 10) read: each function's
//! name hash, structural hash and counters, and the names section that
//! spells its functions' names.

use super::*;

pub(super) const MAGIC: u64 = 0xff6c_7072_6f66_7281;

/// Version-word flag: one byte per counter, 0 meaning "ran".
pub(super) const BYTE_COVERAGE: u64 = 1 << 60;

/// Where a raw profile's parts are, by its format version: 10 (LLVM
/// 19–22) and 11 (LLVM 23, measured on rustc 1.101 nightly: three header
/// words more, before the names' size, and one more word in each data
/// record, before the counter count).
pub(super) struct Layout {
    pub header_words: usize,
    /// `__llvm_profile_data`: six 8-byte fields (seven in 11), the counter
    /// count, three value-site counts and the bitmap size, padded to 8.
    pub data_size: usize,
    /// Where a data record's counter count is.
    pub num_counters_at: usize,
    /// Header words: the names' size, the counters' delta.
    pub names_size: usize,
    pub counters_delta: usize,
}

const V10: Layout = Layout {
    header_words: 16,
    data_size: 64,
    num_counters_at: 48,
    names_size: 9,
    counters_delta: 10,
};

const V11: Layout = Layout {
    header_words: 19,
    data_size: 72,
    num_counters_at: 56,
    names_size: 12,
    counters_delta: 13,
};

/// The layout of the raw profile `bytes`, or why vigil cannot read it.
pub(super) fn layout(bytes: &[u8]) -> Result<&'static Layout, String> {
    let truncated = || "truncated raw profile".to_owned();
    if u64_at(bytes, 0) != Some(MAGIC) {
        return Err("not an LLVM raw profile (64-bit little-endian)".into());
    }
    let version = u64_at(bytes, 8).ok_or_else(truncated)? & 0xffff_ffff;
    match version {
        10 => Ok(&V10),
        11 => {
            // The three new header words: a part vigil does not know of
            // would lie before the names. Zero (no such part) is read.
            for i in 9..12 {
                if u64_at(bytes, i * 8).ok_or_else(truncated)? != 0 {
                    return Err(format!(
                        "raw profile format 11 with header word {i} set; vigil reads format 11 without it"
                    ));
                }
            }
            Ok(&V11)
        }
        _ => Err(format!(
            "raw profile format {version}; vigil reads formats 10 and 11 (rustc with LLVM 19–23)"
        )),
    }
}

pub(super) fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(off..off + 8)?.try_into().ok()?))
}

pub(super) fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

pub(super) fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(off..off + 2)?.try_into().ok()?))
}

/// The functions of a raw profile with their counters.
pub fn parse_profraw(bytes: &[u8]) -> Result<Vec<Record>, String> {
    let truncated = || "truncated raw profile".to_owned();
    let l = layout(bytes)?;
    let word = u64_at(bytes, 8).ok_or_else(truncated)?;
    let byte_counters = word & BYTE_COVERAGE != 0;
    let h = |i: usize| u64_at(bytes, i * 8).ok_or_else(truncated);
    let (ids_size, num_data, pad_before, num_counters, counters_delta) =
        (h(2)?, h(3)?, h(4)?, h(5)?, h(l.counters_delta)?);
    let size = if byte_counters { 1 } else { 8 };
    let data_start = l.header_words * 8 + ids_size as usize;
    let counters_start = data_start
        .checked_add((num_data as usize).checked_mul(l.data_size).ok_or_else(truncated)?)
        .and_then(|x| x.checked_add(pad_before as usize))
        .ok_or_else(truncated)?;
    let counters_len = (num_counters as usize).checked_mul(size).ok_or_else(truncated)?;
    let counters = bytes
        .get(counters_start..counters_start.checked_add(counters_len).ok_or_else(truncated)?)
        .ok_or_else(truncated)?;
    let mut out = Vec::with_capacity(num_data as usize);
    for i in 0..num_data as usize {
        let rec = data_start + i * l.data_size;
        let name_ref = u64_at(bytes, rec).ok_or_else(truncated)?;
        let func_hash = u64_at(bytes, rec + 8).ok_or_else(truncated)?;
        let counter_ptr = u64_at(bytes, rec + 16).ok_or_else(truncated)?;
        let n = u32_at(bytes, rec + l.num_counters_at).ok_or_else(truncated)? as usize;
        // The record's counter pointer is relative to the record itself;
        // the header's delta is the counters' start relative to the first
        // record, so it moves back one record size per record.
        let delta = counters_delta.wrapping_sub((i * l.data_size) as u64);
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
    let l = layout(bytes)?;
    let word = u64_at(bytes, 8).ok_or_else(truncated)?;
    let size = if word & BYTE_COVERAGE != 0 { 1 } else { 8 };
    let h = |i: usize| u64_at(bytes, i * 8).map(|v| v as usize).ok_or_else(truncated);
    let mut at = l.header_words * 8;
    for part in [
        h(2)?,
        h(3)?.checked_mul(l.data_size).ok_or_else(truncated)?,
        h(4)?,
        h(5)?.checked_mul(size).ok_or_else(truncated)?,
        h(6)?,
        h(7)?,
        h(8)?,
    ] {
        at = at.checked_add(part).ok_or_else(truncated)?;
    }
    let names = bytes
        .get(at..at.checked_add(h(l.names_size)?).ok_or_else(truncated)?)
        .ok_or_else(truncated)?;
    parse_names(names)
}

/// A names section (a raw profile's, or a binary's `__llvm_prf_names`):
/// chunks of `\x01`-separated names, each zlib-compressed or not.
pub(super) fn parse_names(names: &[u8]) -> Result<HashMap<u64, String>, String> {
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
