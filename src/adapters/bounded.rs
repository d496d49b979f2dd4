//! A test's output, held to `output.max` bytes: its head and its tail,
//! with a line saying how much was cut between them; the whole of it goes
//! to a file in the state directory (`test-output/`), whose path the detail
//! pane and the JSON name.
//!
//! nextest sends a failed test's output inside one JSON line. A test that
//! printed 50 MB makes a 50 MB line, and reading it whole, then parsing it
//! (serde unescapes the string into a buffer of its own, then copies it)
//! would hold three copies at once. A line longer than the bound is
//! therefore never held: [`LineReader`] keeps its first and last bytes,
//! spills it whole to a file while it streams, and hands on a shortened
//! line (the head, a note of the cut, the tail) that parses as nextest's
//! own. The spilled line's output string is then unescaped, streaming,
//! into the test's output file.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use crate::core::test_state::Failure;

/// Where whole outputs go, and how much of one is held.
#[derive(Clone, Debug)]
pub struct Bound {
    pub max: usize,
    pub dir: PathBuf,
}

impl Bound {
    pub fn new(state_dir: &Path, max: usize) -> Self {
        Self {
            max: max.max(4096),
            dir: state_dir.join("test-output"),
        }
    }

    /// The file that holds the whole output of `test` (its latest failure).
    pub(crate) fn file_for(&self, binary_id: &str, test: &str) -> PathBuf {
        let safe: String = format!("{binary_id}__{test}")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .take(120)
            .collect();
        // Names that sanitise alike stay apart.
        let hash = format!("{:x}", md5::compute(format!("{binary_id}\0{test}")));
        self.dir.join(format!("{safe}-{}.txt", &hash[..8]))
    }

    /// Holds a failure's output to the bound: a longer one is written whole
    /// to the test's file and cut to its head and tail. `whole` says where
    /// a line too long to hold already put it (see [`LineReader`]).
    pub fn hold(&self, binary_id: &str, test: &str, failure: &mut Failure, whole: Option<Spilled>) {
        let file = self.file_for(binary_id, test);
        if let Some(spilled) = whole {
            let moved = std::fs::create_dir_all(&self.dir).and_then(|()| std::fs::rename(&spilled.path, &file));
            match moved {
                Ok(()) => {
                    failure.output_file = Some(file.to_string_lossy().into_owned());
                    failure.output_bytes = Some(spilled.bytes);
                }
                Err(e) => {
                    let _ = std::fs::remove_file(&spilled.path);
                    failure
                        .output
                        .push_str(&format!("\n[vigil could not keep the whole output: {e}]"));
                }
            }
            return;
        }
        if failure.output.len() <= self.max {
            return;
        }
        let total = failure.output.len() as u64;
        let kept = super::keep::write_atomic(&file, failure.output.as_bytes());
        let note = match &kept {
            Ok(()) => format!("the whole output: {}", file.display()),
            Err(e) => format!("the whole output could not be kept: {e}"),
        };
        failure.output = cut(&failure.output, self.max, &note);
        if kept.is_ok() {
            failure.output_file = Some(file.to_string_lossy().into_owned());
            failure.output_bytes = Some(total);
        }
    }

    /// Head and tail sizes for a line too long to hold: together with the
    /// note they stay under the bound, so the held text is not cut again.
    fn halves(&self) -> usize {
        self.max.saturating_sub(4096) / 2
    }
}

/// `text` cut to about `max` bytes: the head and the tail, at line
/// boundaries where one is near, and a line between saying what was cut.
pub fn cut(text: &str, max: usize, note: &str) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let half = max.saturating_sub(note.len() + 64) / 2;
    let mut head = floor_char(text, half);
    // A whole last line where one ends in the last eighth.
    if let Some(nl) = text[..head].rfind('\n').filter(|&n| n >= head - head / 8) {
        head = nl + 1;
    }
    let mut tail = ceil_char(text, text.len() - half);
    if let Some(nl) = text[tail..].find('\n').filter(|&n| n < half / 8) {
        tail += nl + 1;
    }
    let cut_bytes = tail - head;
    let sep = if text[..head].ends_with('\n') { "" } else { "\n" };
    format!(
        "{}{sep}[… {} cut here; {note} …]\n{}",
        &text[..head],
        crate::core::units::bytes(cut_bytes as u64),
        &text[tail..]
    )
}

fn floor_char(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_char(s: &str, mut i: usize) -> usize {
    while i < s.len() && !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

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
enum Json {
    Outside,
    InString,
    Escape,
    /// Inside `\uXXXX`, this many hex digits to go.
    Unicode(u8),
}

impl Json {
    fn step(self, b: u8) -> Json {
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
struct Mark {
    offset: u64,
    string: u64,
}

/// Reads nextest's stdout a line at a time, never holding a line longer
/// than the bound (see the module's notes).
pub struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    bound: Bound,
    /// Lines longer than this are spilled (the bound, and room for the
    /// rest of the event).
    big: usize,
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
fn unique(what: &str, ext: &str) -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!(".{what}-{}-{n}.{ext}", std::process::id())
}

fn is_continuation(b: u8) -> bool {
    b & 0xC0 == 0x80
}

/// Unescapes the JSON string whose opening quote is at `start` in the file
/// `raw`, streaming, into `out`; its length in bytes.
fn unescape_string(raw: &Path, start: u64, out: &Path) -> io::Result<u64> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_keeps_head_and_tail_and_says_how_much_went() {
        let text: String = (0..10_000).map(|i| format!("line {i}\n")).collect();
        let held = cut(&text, 4096, "the whole output: /x");
        assert!(held.len() <= 4096, "{}", held.len());
        assert!(held.starts_with("line 0\n"));
        assert!(held.ends_with("line 9999\n"));
        assert!(held.contains("cut here; the whole output: /x"), "{held}");
        // Whole lines on both sides of the note.
        let (before, after) = held.split_once("\n[… ").unwrap();
        assert!(before.ends_with(|c: char| c.is_ascii_digit()), "{before:?}");
        assert!(after.split_once("…]\n").unwrap().1.starts_with("line "));
    }

    #[test]
    fn a_cut_never_splits_a_character() {
        let text = "é".repeat(10_000);
        let held = cut(&text, 4096, "n");
        assert!(held.len() <= 4096);
        assert!(held.starts_with('é') && held.ends_with('é'));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_long_line_is_shortened_and_its_output_spilled_whole() {
        let dir = std::env::temp_dir().join(format!("vigil-bounded-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let output: String = (0..200_000).map(|i| format!("{i}: \"é\\\t\u{1F600}\n")).collect();
        let line = serde_json::json!({
            "type": "test", "event": "failed", "name": "b$t", "exec_time": 0.5,
            "stdout": output,
        })
        .to_string();
        let input = format!("{{\"type\":\"suite\"}}\n{line}\nnext\n");
        let bound = Bound::new(&dir, 64 * 1024);
        let mut r = LineReader::new(
            tokio::io::BufReader::with_capacity(1000, input.as_bytes()),
            bound.clone(),
        );
        assert!(matches!(r.next(false).await.unwrap(), Line::Held));
        assert_eq!(r.text(), "{\"type\":\"suite\"}\n");
        let Line::Shortened { line, spilled } = r.next(false).await.unwrap() else {
            panic!("not shortened")
        };
        assert!(line.len() < 64 * 1024, "{}", line.len());
        let v: serde_json::Value = serde_json::from_str(&line).expect("the shortened line parses");
        let held = v["stdout"].as_str().unwrap();
        assert!(held.starts_with("0: \"é\\\t\u{1F600}\n"), "{:?}", &held[..40]);
        assert!(
            held.ends_with("199999: \"é\\\t\u{1F600}\n"),
            "{:?}",
            &held[held.len() - 40..]
        );
        assert!(held.contains("cut here"));
        assert_eq!(v["exec_time"], 0.5);
        let spilled = spilled.expect("spilled");
        assert_eq!(std::fs::read_to_string(&spilled.path).unwrap(), output);
        assert_eq!(spilled.bytes, output.len() as u64);
        assert!(matches!(r.next(false).await.unwrap(), Line::Held));
        assert_eq!(r.text(), "next\n");
        assert!(matches!(r.next(false).await.unwrap(), Line::End));
        // Only the spilled output is left (the raw line is gone).
        let left: Vec<_> = std::fs::read_dir(&bound.dir).unwrap().collect();
        assert_eq!(left.len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn held_output_goes_whole_to_the_file_and_the_failure_names_it() {
        let dir = std::env::temp_dir().join(format!("vigil-bounded-hold-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let bound = Bound::new(&dir, 4096);
        let text = "x".repeat(10_000);
        let mut f = Failure {
            message: "m".into(),
            output: text.clone(),
            location: None,
            output_file: None,
            output_bytes: None,
        };
        bound.hold("b", "t", &mut f, None);
        assert!(f.output.len() <= 4096);
        assert_eq!(f.output_bytes, Some(10_000));
        let file = f.output_file.clone().unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
        assert!(f.output.contains(&file), "{}", f.output);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Output read line by line (the doc lane's), held to the bound as it
/// comes: its head, a tail of whole lines, and the whole of it in a file
/// once it grows past the bound.
#[derive(Debug, Default)]
pub struct Held {
    head: String,
    tail: std::collections::VecDeque<String>,
    tail_bytes: usize,
    head_full: bool,
    total: u64,
    spill: Option<(PathBuf, io::BufWriter<std::fs::File>)>,
    /// The spill could not be written: what went wrong.
    lost: Option<String>,
}

impl Held {
    /// Adds one line (its newline added).
    pub(crate) fn push_line(&mut self, bound: Option<&Bound>, line: &str) {
        self.total += line.len() as u64 + 1;
        let Some(bound) = bound else {
            self.head.push_str(line);
            self.head.push('\n');
            return;
        };
        let half = bound.halves();
        if !self.head_full && self.head.len() + line.len() >= half {
            // The head ends in this line: from here on the whole output
            // goes to a file as well (dropped again if it stays short).
            self.start_spill(bound);
        }
        if let Some((_, w)) = &mut self.spill {
            if w.write_all(line.as_bytes()).and_then(|()| w.write_all(b"\n")).is_err() {
                self.lost = Some("the output file could not be written".into());
            }
        }
        if !self.head_full {
            if self.head.len() + line.len() < half {
                self.head.push_str(line);
                self.head.push('\n');
                return;
            }
            // The head ends here, inside this line; the rest of the line
            // is in the file only.
            self.head_full = true;
            let room = floor_char(line, half.saturating_sub(self.head.len()));
            self.head.push_str(&line[..room]);
            return;
        }
        // A line past the head goes to the tail, held to `half` bytes.
        let line = &line[ceil_char(line, line.len().saturating_sub(half))..];
        self.tail_bytes += line.len() + 1;
        self.tail.push_back(line.to_owned());
        while self.tail_bytes > half && self.tail.len() > 1 {
            if let Some(front) = self.tail.pop_front() {
                self.tail_bytes -= front.len() + 1;
            }
        }
    }

    fn start_spill(&mut self, bound: &Bound) {
        let path = bound.dir.join(unique("held", "txt"));
        let opened = std::fs::create_dir_all(&bound.dir).and_then(|()| std::fs::File::create(&path));
        match opened {
            Ok(f) => {
                let mut w = io::BufWriter::new(f);
                // What came before: all of it is in the head.
                if w.write_all(self.head.as_bytes()).is_err() {
                    self.lost = Some("the output file could not be written".into());
                }
                self.spill = Some((path, w));
            }
            Err(e) => self.lost = Some(format!("the whole output could not be kept: {e}")),
        }
    }

    /// The text held (trimmed at the end) and, when it was cut, the file
    /// with the whole of it.
    pub fn finish(self) -> (String, Option<Spilled>) {
        let cut = self.total - self.head.len() as u64 - self.tail_bytes as u64;
        // Short after all: held whole, no file.
        let spill = if cut == 0 {
            if let Some((path, w)) = self.spill {
                drop(w);
                let _ = std::fs::remove_file(path);
            }
            None
        } else {
            self.spill
        };
        let mut text = self.head;
        let spilled = match spill {
            Some((path, mut w)) => {
                let flushed = w.flush().is_ok();
                drop(w);
                if flushed && self.lost.is_none() {
                    Some(Spilled {
                        path,
                        bytes: self.total,
                    })
                } else {
                    let _ = std::fs::remove_file(path);
                    None
                }
            }
            None => None,
        };
        if !self.tail.is_empty() || cut > 0 {
            if cut > 0 {
                let note = match (&spilled, &self.lost) {
                    (_, Some(lost)) => lost.clone(),
                    _ => "the whole output is kept in a file".to_owned(),
                };
                text.push_str(&format!("[… {} cut here; {note} …]\n", crate::core::units::bytes(cut)));
            }
            for l in &self.tail {
                text.push_str(l);
                text.push('\n');
            }
        }
        (text.trim_end().to_owned(), spilled)
    }
}

/// Reads one line of at most `cap` bytes from `r` (without its newline); a
/// longer line keeps its first `cap` bytes and says how much it lost.
/// `None` at the end.
pub(crate) fn read_capped_line(r: &mut impl io::BufRead, cap: usize) -> io::Result<Option<String>> {
    let mut line = Vec::new();
    let mut dropped = 0u64;
    let mut any = false;
    let mut ended = false;
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            break;
        }
        any = true;
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(nl) => (nl + 1, true),
            None => (chunk.len(), false),
        };
        let part = &chunk[..take];
        let room = cap.saturating_sub(line.len()).min(part.len());
        line.extend_from_slice(&part[..room]);
        dropped += (part.len() - room) as u64;
        r.consume(take);
        if done {
            ended = true;
            break;
        }
    }
    if !any {
        return Ok(None);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
    } else if ended {
        // The newline was among the bytes dropped.
        dropped = dropped.saturating_sub(1);
    }
    let mut text = String::from_utf8_lossy(&line).into_owned();
    if dropped > 0 {
        text.push_str(&format!(
            " [… the rest of this line, {}, cut]",
            crate::core::units::bytes(dropped)
        ));
    }
    Ok(Some(text))
}

#[cfg(test)]
mod held_tests {
    use super::*;

    #[test]
    fn lines_past_the_bound_go_to_the_file_and_the_held_text_keeps_head_and_tail() {
        let dir = std::env::temp_dir().join(format!("vigil-held-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let bound = Bound::new(&dir, 16 * 1024);
        let mut held = Held::default();
        let mut whole = String::new();
        for i in 0..5000 {
            let l = format!("line {i} ✓");
            held.push_line(Some(&bound), &l);
            whole.push_str(&l);
            whole.push('\n');
        }
        let (text, spilled) = held.finish();
        assert!(text.len() <= 16 * 1024, "{}", text.len());
        assert!(text.starts_with("line 0 ✓\nline 1 ✓\n"));
        assert!(text.ends_with("line 4999 ✓"));
        assert!(text.contains("cut here; the whole output is kept in a file"), "{text}");
        let spilled = spilled.expect("spilled");
        let kept = std::fs::read_to_string(&spilled.path).unwrap();
        assert!(kept == whole, "the file holds {} of {} bytes", kept.len(), whole.len());
        assert_eq!(spilled.bytes, whole.len() as u64);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn short_output_is_held_whole_without_a_file() {
        let dir = std::env::temp_dir().join(format!("vigil-held-short-{}", std::process::id()));
        let bound = Bound::new(&dir, 16 * 1024);
        let mut held = Held::default();
        held.push_line(Some(&bound), "a");
        held.push_line(Some(&bound), "b");
        let (text, spilled) = held.finish();
        assert_eq!(text, "a\nb");
        assert!(spilled.is_none());
        assert!(!dir.exists(), "no file for short output");
    }

    #[test]
    fn a_capped_line_keeps_its_head_and_says_what_it_lost() {
        let input = format!("short\n{}\nlast", "x".repeat(100));
        let mut r = io::BufReader::with_capacity(7, input.as_bytes());
        assert_eq!(read_capped_line(&mut r, 10).unwrap().unwrap(), "short");
        assert_eq!(
            read_capped_line(&mut r, 10).unwrap().unwrap(),
            "xxxxxxxxxx [… the rest of this line, 90 bytes, cut]"
        );
        assert_eq!(read_capped_line(&mut r, 10).unwrap().unwrap(), "last");
        assert_eq!(read_capped_line(&mut r, 10).unwrap(), None);
    }
}
