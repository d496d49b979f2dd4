//! The doc lane's output held the same way: each doctest's lines to the
//! bound, and a single line capped as it is read.

use super::*;

/// Output read line by line (the doc lane's), held to the bound as it
/// comes: its head, a tail of whole lines, and the whole of it in a file
/// once it grows past the bound.
#[derive(Debug, Default)]
pub struct Held {
    pub(super) head: String,
    pub(super) tail: std::collections::VecDeque<String>,
    pub(super) tail_bytes: usize,
    pub(super) head_full: bool,
    pub(super) total: u64,
    pub(super) spill: Option<(PathBuf, io::BufWriter<std::fs::File>)>,
    /// The spill could not be written: what went wrong.
    pub(super) lost: Option<String>,
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

    pub(super) fn start_spill(&mut self, bound: &Bound) {
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
