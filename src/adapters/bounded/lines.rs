//! nextest's lines read with a bound: a line longer than it is spilled to a
//! file as it streams (its head and tail kept), cut at points inside its
//! output string so it still parses as nextest's, and that string
//! unescaped, streaming, into the test's whole-output file.

use super::*;

/// The whole output of a line too long to hold, unescaped into a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spilled {
    pub path: PathBuf,
    pub bytes: u64,
}

/// One line read: held whole, or shortened with its output spilled.
pub enum Line {
    End,
    /// In the reader's buffer (see [`LineReader::text`]).
    Held,
    Shortened {
        line: String,
        spilled: Option<Spilled>,
    },
}

/// Where a byte of a JSON line stands.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Json {
    Outside,
    InString,
    Escape,
    /// Inside `\uXXXX`, this many hex digits to go.
    Unicode(u8),
}

impl Json {
    pub(super) fn step(self, b: u8) -> Json {
        match self {
            Json::Outside if b == b'"' => Json::InString,
            Json::Outside => Json::Outside,
            Json::InString if b == b'"' => Json::Outside,
            Json::InString if b == b'\\' => Json::Escape,
            Json::InString => Json::InString,
            Json::Escape if b == b'u' => Json::Unicode(4),
            Json::Escape => Json::InString,
            Json::Unicode(1) => Json::InString,
            Json::Unicode(n) => Json::Unicode(n - 1),
        }
    }
}

/// A point where a string may be cut: inside one, not in an escape, at a
/// character boundary.
#[derive(Clone, Copy)]
pub(super) struct Mark {
    pub(super) offset: u64,
    pub(super) string: u64,
}

/// Reads nextest's stdout a line at a time, never holding a line longer
/// than the bound (see the module's notes).
pub struct LineReader<R> {
    pub(super) inner: R,
    pub(super) buf: Vec<u8>,
    pub(super) bound: Bound,
    /// Lines longer than this are spilled (the bound, and room for the
    /// rest of the event).
    pub(super) big: usize,
}

impl<R: AsyncBufRead + Unpin> LineReader<R> {
    pub fn new(inner: R, bound: Bound) -> Self {
        let big = bound.max.saturating_add(64 * 1024);
        Self {
            inner,
            buf: Vec::new(),
            bound,
            big,
        }
    }

    /// The line [`Line::Held`] stands for.
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.buf)
    }

    /// Reads the next line. `hold_all`: never spill (the test list, which
    /// vigil needs whole).
    pub async fn next(&mut self, hold_all: bool) -> io::Result<Line> {
        // A buffer that grew for a long line is let go, not kept for good.
        if self.buf.capacity() > self.big.saturating_mul(4) {
            self.buf = Vec::new();
        }
        self.buf.clear();
        loop {
            let chunk = self.inner.fill_buf().await?;
            if chunk.is_empty() {
                return Ok(if self.buf.is_empty() { Line::End } else { Line::Held });
            }
            if let Some(nl) = chunk.iter().position(|&b| b == b'\n') {
                self.buf.extend_from_slice(&chunk[..=nl]);
                self.inner.consume(nl + 1);
                return Ok(Line::Held);
            }
            let n = chunk.len();
            self.buf.extend_from_slice(chunk);
            self.inner.consume(n);
            if !hold_all && self.buf.len() > self.big {
                return self.spill().await;
            }
        }
    }

    /// The rest of a long line: to a file as it comes, its first and last
    /// bytes kept.
    async fn spill(&mut self) -> io::Result<Line> {
        std::fs::create_dir_all(&self.bound.dir)?;
        let raw_path = self.bound.dir.join(unique("line", "json"));
        let mut raw = io::BufWriter::new(std::fs::File::create(&raw_path)?);
        let half = self.bound.halves();
        // The head: up to the last point a string may be cut, near `half`.
        let mut state = Json::Outside;
        let mut strings = 0u64;
        let mut opened = Vec::new();
        // Cuts fall at line starts (just after an escaped newline) where
        // one is near.
        let (mut any_mark, mut line_mark) = (None, None);
        let mut line_start = false;
        for (i, &b) in self.buf.iter().enumerate() {
            if i <= half && state == Json::InString && !is_continuation(b) {
                let m = Mark {
                    offset: i as u64,
                    string: strings,
                };
                any_mark = Some(m);
                if line_start {
                    line_mark = Some(m);
                }
            }
            line_start = state == Json::Escape && b == b'n';
            let next = state.step(b);
            if state == Json::Outside && next == Json::InString {
                strings += 1;
                opened.push(i as u64);
            }
            state = next;
        }
        let head_mark = line_mark
            .filter(|m: &Mark| m.offset as usize + half / 8 >= half)
            .or(any_mark);
        raw.write_all(&self.buf)?;
        let mut offset = self.buf.len() as u64;
        let mut head = std::mem::take(&mut self.buf);
        head.truncate(head_mark.map_or(0, |m| m.offset as usize));
        // The tail: from the newest mark at least `half` from the end.
        let mut tail: Vec<u8> = Vec::new();
        let mut tail_start = offset;
        let mut marks: std::collections::VecDeque<Mark> = Default::default();
        let mut last_mark = 0u64;
        loop {
            let chunk = self.inner.fill_buf().await?;
            if chunk.is_empty() {
                break;
            }
            let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
                Some(nl) => (nl + 1, true),
                None => (chunk.len(), false),
            };
            let part = &chunk[..take];
            raw.write_all(part)?;
            for &b in part {
                if state == Json::InString
                    && !is_continuation(b)
                    && offset - last_mark >= 1024
                    && (line_start || offset - last_mark >= 16 * 1024)
                {
                    marks.push_back(Mark {
                        offset,
                        string: strings,
                    });
                    last_mark = offset;
                }
                line_start = state == Json::Escape && b == b'n';
                let next = state.step(b);
                if state == Json::Outside && next == Json::InString {
                    strings += 1;
                    opened.push(offset);
                }
                state = next;
                offset += 1;
            }
            tail.extend_from_slice(part);
            self.inner.consume(take);
            // Drop what is older than needed, at a mark.
            let end = tail_start + tail.len() as u64;
            if tail.len() > 2 * half + 8192 {
                while marks.len() > 1 && end - marks[1].offset >= half as u64 {
                    marks.pop_front();
                }
                if let Some(m) = marks
                    .front()
                    .filter(|m| m.offset > tail_start && end - m.offset >= half as u64)
                {
                    tail.drain(..(m.offset - tail_start) as usize);
                    tail_start = m.offset;
                }
            }
            if done {
                break;
            }
        }
        raw.flush()?;
        drop(raw);
        // The tail starts at a mark in the head's string: the newest that
        // leaves `half` bytes after it, else the oldest kept.
        let end = offset;
        let tail_mark = head_mark.and_then(|h| {
            let candidates = marks.iter().filter(|m| m.offset >= tail_start && m.string == h.string);
            let oldest = candidates.clone().next().copied();
            candidates
                .rev()
                .find(|m| end - m.offset >= half as u64)
                .copied()
                .or(oldest)
        });
        let total = offset;
        let result = if let (Some(h), Some(t)) = (head_mark, tail_mark) {
            let start = opened.get(h.string as usize - 1).copied().unwrap_or(0);
            let out_path = self.bound.dir.join(unique("output", "txt"));
            let spilled = unescape_string(&raw_path, start, &out_path)
                .map(|bytes| Spilled {
                    path: out_path.clone(),
                    bytes,
                })
                .ok();
            let note = serde_json::to_string(&format!(
                "\n[… {} cut here; the whole output is kept in a file …]\n",
                crate::core::units::bytes(t.offset - h.offset)
            ))
            .unwrap_or_default();
            let mut line = Vec::with_capacity(head.len() + note.len() + tail.len());
            line.extend_from_slice(&head);
            line.extend_from_slice(note.trim_matches('"').as_bytes());
            line.extend_from_slice(&tail[(t.offset - tail_start) as usize..]);
            Line::Shortened {
                line: String::from_utf8_lossy(&line).trim_end_matches(['\n', '\r']).to_owned(),
                spilled,
            }
        } else {
            // Not one long string (nothing nextest prints): said, not held.
            Line::Shortened {
                line: format!(
                    "(a line of {} vigil could not read as a test event)",
                    crate::core::units::bytes(total)
                ),
                spilled: None,
            }
        };
        let _ = std::fs::remove_file(&raw_path);
        Ok(result)
    }
}

/// A temporary file name no other reader of this process (nor another
/// vigil) uses.
pub(super) fn unique(what: &str, ext: &str) -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!(".{what}-{}-{n}.{ext}", std::process::id())
}

pub(super) fn is_continuation(b: u8) -> bool {
    b & 0xC0 == 0x80
}

/// Unescapes the JSON string whose opening quote is at `start` in the file
/// `raw`, streaming, into `out`; its length in bytes.
pub(super) fn unescape_string(raw: &Path, start: u64, out: &Path) -> io::Result<u64> {
    use std::io::{BufRead, Seek, SeekFrom};
    let mut input = std::fs::File::open(raw)?;
    input.seek(SeekFrom::Start(start + 1))?;
    let mut input = io::BufReader::with_capacity(256 * 1024, input);
    let mut output = io::BufWriter::with_capacity(256 * 1024, std::fs::File::create(out)?);
    let mut written = 0u64;
    // An escape may straddle two chunks: its bytes so far.
    let mut escape: Vec<u8> = Vec::new();
    let mut high: Option<u32> = None;
    'read: loop {
        let chunk = input.fill_buf()?;
        if chunk.is_empty() {
            break;
        }
        let mut i = 0;
        let n = chunk.len();
        while i < n {
            if escape.is_empty() {
                // Plain bytes up to the next quote or backslash, at once.
                let run = chunk[i..]
                    .iter()
                    .position(|&b| b == b'"' || b == b'\\')
                    .unwrap_or(n - i);
                output.write_all(&chunk[i..i + run])?;
                written += run as u64;
                i += run;
                if i == n {
                    break;
                }
                if chunk[i] == b'"' {
                    input.consume(i + 1);
                    break 'read;
                }
            }
            escape.push(chunk[i]);
            i += 1;
            let complete = match escape.get(1) {
                None => false,
                Some(b'u') => escape.len() == 6,
                Some(_) => true,
            };
            if !complete {
                continue;
            }
            let mut utf8 = [0u8; 4];
            let text: &[u8] = match escape[1] {
                b'n' => b"\n",
                b't' => b"\t",
                b'r' => b"\r",
                b'b' => &[8],
                b'f' => &[12],
                b'u' => {
                    let unit = std::str::from_utf8(&escape[2..])
                        .ok()
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                        .unwrap_or(0xFFFD);
                    let c = match (high.take(), unit) {
                        (None, 0xD800..=0xDBFF) => {
                            high = Some(unit);
                            None
                        }
                        (Some(h), 0xDC00..=0xDFFF) => char::from_u32(0x10000 + ((h - 0xD800) << 10) + (unit - 0xDC00)),
                        (_, u) => Some(char::from_u32(u).unwrap_or('\u{FFFD}')),
                    };
                    match c {
                        Some(c) => c.encode_utf8(&mut utf8).as_bytes(),
                        None => &[],
                    }
                }
                other => {
                    utf8[0] = other;
                    &utf8[..1]
                }
            };
            output.write_all(text)?;
            written += text.len() as u64;
            escape.clear();
        }
        input.consume(n);
    }
    output.flush()?;
    Ok(written)
}
