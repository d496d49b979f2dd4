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

mod held;
mod lines;
pub use held::*;
pub use lines::*;

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
