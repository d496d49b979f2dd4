//! A coverage mapping (format 7) decoded: its file names, each function's
//! regions as counter expressions, and the lines those regions give.

use super::*;

pub(super) struct Cursor<'a> {
    pub(super) b: &'a [u8],
    pub(super) at: usize,
}

impl Cursor<'_> {
    pub(super) fn leb(&mut self) -> Result<u64, String> {
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

    pub(super) fn small(&mut self) -> Result<u32, String> {
        u32::try_from(self.leb()?).map_err(|_| "number out of range in mapping".to_owned())
    }

    pub(super) fn bytes(&mut self, n: usize) -> Result<&[u8], String> {
        let s = self.b.get(self.at..self.at + n).ok_or("truncated mapping")?;
        self.at += n;
        Ok(s)
    }
}

/// Counter encoding: two tag bits (zero, counter, subtract, add).
pub(super) const TAG_BITS: u32 = 2;

pub(super) fn decode_filenames(blob: &[u8]) -> Result<Vec<PathBuf>, String> {
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

pub(super) fn decode_function(data: &[u8], files: &[u32]) -> Result<Function, String> {
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
    let mut branches = Vec::new();
    for &file in &mapping {
        let n = c.leb()? as usize;
        let mut line = 0u32;
        for _ in 0..n {
            let encoded = c.leb()?;
            let tag = encoded & ((1 << TAG_BITS) - 1);
            let mut kind = Kind::Code;
            let mut counter = 0;
            let mut outcomes = None;
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
                        outcomes = Some((c.leb()?, c.leb()?));
                    }
                    5 => {
                        kind = Kind::Other; // an MC/DC decision
                        c.leb()?;
                        c.leb()?;
                    }
                    6 => {
                        kind = Kind::Other; // an MC/DC branch: its two
                                            // counters, then its condition ids
                        outcomes = Some((c.leb()?, c.leb()?));
                        for _ in 0..3 {
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
            if let Some((t, f)) = outcomes {
                branches.push(Branch {
                    file,
                    line,
                    col: col_start,
                    t,
                    f,
                });
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
        branches,
    })
}

/// Each line a function's regions span, with the regions that decide it.
pub(super) fn lines_of(regions: &[(u32, Region)]) -> Vec<Line> {
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
    pub(super) fn eval(&self, c: u64, counters: &[u64], depth: u32) -> u64 {
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
