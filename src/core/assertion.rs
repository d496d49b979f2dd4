//! The two values of a failed `assert_eq!` / `assert_ne!` (std's `left:` /
//! ` right:` lines, multi-line values included, or `pretty_assertions`'
//! `Diff < left / right >` block), and a diff of them for the detail pane:
//! changed lines marked, the differing characters within a changed line
//! located, long unchanged runs folded.

use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Assertion {
    pub left: String,
    pub right: String,
}

/// Drops ANSI escape sequences (pretty_assertions colours its diff).
pub(crate) fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// The assertion's two values, from a test's panic message or output.
pub fn parse(text: &str) -> Option<Assertion> {
    let text = strip_ansi(text);
    std_values(&text).or_else(|| pretty_values(&text))
}

/// std: `assertion `left == right` failed[: msg]` then `  left: …` and
/// ` right: …` (each possibly over several lines), up to the backtrace.
fn std_values(text: &str) -> Option<Assertion> {
    let start = text.find("assertion `left ")?;
    let lines: Vec<&str> = text[start..].lines().collect();
    let l = lines.iter().position(|l| l.starts_with("  left: "))?;
    let r = l + lines[l..].iter().position(|l| l.starts_with(" right: "))?;
    let end = r + lines[r..]
        .iter()
        .skip(1)
        .position(|l| {
            l.starts_with("stack backtrace:") || l.starts_with("note: ") || l.starts_with("thread '") || l.is_empty()
        })
        .map_or(lines.len() - r, |p| p + 1);
    let value = |from: usize, to: usize, prefix: &str| {
        let mut v = lines[from][prefix.len()..].to_owned();
        for l in &lines[from + 1..to] {
            v.push('\n');
            v.push_str(l);
        }
        v
    };
    Some(Assertion {
        left: value(l, r, "  left: "),
        right: value(r, end, " right: "),
    })
}

/// pretty_assertions: `Diff < left / right > :` then lines marked `<`
/// (left only), `>` (right only) or ` ` (both).
fn pretty_values(text: &str) -> Option<Assertion> {
    let start = text.find("Diff < left / right > :")?;
    let (mut left, mut right) = (Vec::new(), Vec::new());
    for l in text[start..].lines().skip(1) {
        if l.is_empty() || l.starts_with("stack backtrace:") || l.starts_with("note: ") {
            break;
        }
        match l.chars().next() {
            Some('<') => left.push(&l[1..]),
            Some('>') => right.push(&l[1..]),
            Some(' ') => {
                left.push(&l[1..]);
                right.push(&l[1..]);
            }
            _ => break,
        }
    }
    if left.is_empty() && right.is_empty() {
        return None;
    }
    Some(Assertion {
        left: left.join("\n"),
        right: right.join("\n"),
    })
}

/// One line of the diff. `span`: the differing characters (char indices,
/// end exclusive) of a changed line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiffLine {
    Same(String),
    Left {
        text: String,
        span: Option<(usize, usize)>,
    },
    Right {
        text: String,
        span: Option<(usize, usize)>,
    },
    /// This many unchanged lines, folded.
    Fold(usize),
}

/// Lines kept around a change before unchanged ones fold.
const CONTEXT: usize = 3;

/// `{:?}` output on one long line, laid out as `{:#?}` would: a line per
/// field and item, so that a line diff says which one differs.
pub(crate) fn pretty(value: &str) -> String {
    if value.contains('\n') || value.chars().count() < 60 {
        return value.to_owned();
    }
    let mut out = String::new();
    let mut depth = 0usize;
    let mut in_str = false;
    let mut escaped = false;
    let mut chars = value.chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.push_str(&"    ".repeat(depth));
    };
    while let Some(c) = chars.next() {
        if in_str {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_str = true;
                out.push(c);
            }
            '{' | '[' | '(' => {
                out.push(c);
                if matches!(chars.peek(), Some('}' | ']' | ')')) {
                    continue;
                }
                depth += 1;
                newline(&mut out, depth);
                while chars.peek() == Some(&' ') {
                    chars.next();
                }
            }
            '}' | ']' | ')' => {
                let trimmed = out.trim_end_matches(' ').len();
                out.truncate(trimmed);
                if !out.ends_with(['{', '[', '(']) {
                    if !out.ends_with(',') {
                        out.push(',');
                    }
                    depth = depth.saturating_sub(1);
                    newline(&mut out, depth);
                }
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
                while chars.peek() == Some(&' ') {
                    chars.next();
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// The diff of two values, line by line (`similar`'s Myers diff, as insta
/// uses), changed line pairs located to their differing characters,
/// unchanged runs beyond `CONTEXT` lines of a change folded.
pub fn diff(left: &str, right: &str) -> Vec<DiffLine> {
    let (l, r) = (pretty(left), pretty(right));
    let line = |v: &str| v.trim_end_matches('\n').trim_end_matches('\r').to_owned();
    let raw = similar::TextDiff::from_lines(l.as_str(), r.as_str())
        .iter_all_changes()
        .map(|c| match c.tag() {
            similar::ChangeTag::Equal => DiffLine::Same(line(c.value())),
            // A change reads as the old lines, then the new.
            similar::ChangeTag::Delete => DiffLine::Left {
                text: line(c.value()),
                span: None,
            },
            similar::ChangeTag::Insert => DiffLine::Right {
                text: line(c.value()),
                span: None,
            },
        })
        .collect();
    refine(raw)
}

/// Changed line pairs located, unchanged runs folded.
pub(crate) fn refine(mut lines: Vec<DiffLine>) -> Vec<DiffLine> {
    pair_spans(&mut lines);
    fold(lines)
}

/// A run of left lines followed by as many right lines: each pair gets the
/// span where it differs (common prefix and suffix trimmed).
fn pair_spans(lines: &mut [DiffLine]) {
    let mut i = 0;
    while i < lines.len() {
        let lefts = lines[i..]
            .iter()
            .take_while(|l| matches!(l, DiffLine::Left { .. }))
            .count();
        let rights = lines[i + lefts..]
            .iter()
            .take_while(|l| matches!(l, DiffLine::Right { .. }))
            .count();
        if lefts > 0 && lefts == rights {
            for k in 0..lefts {
                let (DiffLine::Left { text: lt, .. }, DiffLine::Right { text: rt, .. }) =
                    (&lines[i + k], &lines[i + lefts + k])
                else {
                    continue;
                };
                let (ls, rs) = spans(lt, rt);
                if let DiffLine::Left { span, .. } = &mut lines[i + k] {
                    *span = Some(ls);
                }
                if let DiffLine::Right { span, .. } = &mut lines[i + lefts + k] {
                    *span = Some(rs);
                }
            }
        }
        i += (lefts + rights).max(1);
    }
}

fn spans(a: &str, b: &str) -> ((usize, usize), (usize, usize)) {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    ((prefix, a.len() - suffix), (prefix, b.len() - suffix))
}

/// Unchanged runs shorter than this are shown, not folded.
const MIN_FOLD: usize = 3;

fn fold(lines: Vec<DiffLine>) -> Vec<DiffLine> {
    let changed: Vec<usize> = (0..lines.len())
        .filter(|&i| !matches!(lines[i], DiffLine::Same(_)))
        .collect();
    let near = |i: usize| changed.iter().any(|&c| c.abs_diff(i) <= CONTEXT);
    let mut out = Vec::new();
    let mut run: Vec<DiffLine> = Vec::new();
    let flush = |out: &mut Vec<DiffLine>, run: &mut Vec<DiffLine>| {
        if run.len() >= MIN_FOLD {
            out.push(DiffLine::Fold(run.len()));
            run.clear();
        } else {
            out.append(run);
        }
    };
    for (i, l) in lines.into_iter().enumerate() {
        if matches!(l, DiffLine::Same(_)) && !near(i) {
            run.push(l);
            continue;
        }
        flush(&mut out, &mut run);
        out.push(l);
    }
    flush(&mut out, &mut run);
    out
}

/// The diff as plain text (no colour): `-` left, `+` right, `^` under the
/// differing characters, folds said in words.
pub fn plain(lines: &[DiffLine]) -> Vec<String> {
    let mut out = Vec::new();
    for l in lines {
        match l {
            DiffLine::Same(t) => out.push(format!("  {t}")),
            DiffLine::Fold(n) => out.push(format!("  … {n} identical line{} …", if *n == 1 { "" } else { "s" })),
            DiffLine::Left { text, span } | DiffLine::Right { text, span } => {
                let mark = if matches!(l, DiffLine::Left { .. }) { '-' } else { '+' };
                out.push(format!("{mark} {text}"));
                if let Some((s, e)) = span.filter(|(s, e)| e > s) {
                    out.push(format!("  {}{}", " ".repeat(s), "^".repeat(e - s)));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real panic messages (rustc 1.95).
    const STRUCT: &str = "thread 'orders::tests::totals' (12384) panicked at src/main.rs:6:41:\nassertion `left == right` failed\n  left: Order { id: 1, items: [\"tea\", \"cake\"], note: \"say \\\"hi\\\"\\n\" }\n right: Order { id: 1, items: [\"tea\", \"pie\"], note: \"say \\\"hi\\\"\\n\" }\nstack backtrace:\n   0: x";
    const ESCAPES: &str = "thread 't' panicked at src/main.rs:8:60:\nassertion `left == right` failed: strings differ\n  left: \"ab\\tc\"\n right: \"abc\"\nnote: run with `RUST_BACKTRACE=1`";
    const MULTI: &str = "thread 't' panicked at src/lib.rs:9:5:\nassertion `left == right` failed\n  left: Cart {\n    total: 3,\n}\n right: Cart {\n    total: 4,\n}\n";
    const NE: &str = "thread 't' panicked at src/lib.rs:2:5:\nassertion `left != right` failed\n  left: 1\n right: 1\n";
    const PRETTY: &str = "thread 't' panicked at src/lib.rs:5:5:\nassertion failed: `(left == right)`\n\n\u{1b}[1mDiff\u{1b}[0m \u{1b}[31m< left\u{1b}[0m / \u{1b}[32mright >\u{1b}[0m :\n Foo {\n\u{1b}[31m<    lorem: \"Hello World!\",\u{1b}[0m\n\u{1b}[32m>    lorem: \"Hello Wrold!\",\u{1b}[0m\n     ipsum: 42,\n }\n\n";

    #[test]
    fn std_values_parse_single_and_multi_line() {
        let a = parse(STRUCT).unwrap();
        assert!(
            a.left.starts_with("Order { id: 1") && a.right.contains("\"pie\""),
            "{a:?}"
        );
        let a = parse(ESCAPES).unwrap();
        assert_eq!((a.left.as_str(), a.right.as_str()), ("\"ab\\tc\"", "\"abc\""));
        let a = parse(MULTI).unwrap();
        assert_eq!(a.left, "Cart {\n    total: 3,\n}");
        assert_eq!(a.right, "Cart {\n    total: 4,\n}");
        let a = parse(NE).unwrap();
        assert_eq!((a.left.as_str(), a.right.as_str()), ("1", "1"));
        assert!(parse("thread 't' panicked at src/lib.rs:1:1:\nexplicit panic").is_none());
    }

    #[test]
    fn pretty_assertions_output_parses() {
        let a = parse(PRETTY).unwrap();
        assert_eq!(a.left, "Foo {\n    lorem: \"Hello World!\",\n    ipsum: 42,\n}");
        assert_eq!(a.right, "Foo {\n    lorem: \"Hello Wrold!\",\n    ipsum: 42,\n}");
    }

    #[test]
    fn a_one_line_debug_value_is_laid_out_and_the_changed_item_located() {
        let a = parse(STRUCT).unwrap();
        let d = diff(&a.left, &a.right);
        let changed: Vec<&DiffLine> = d
            .iter()
            .filter(|l| !matches!(l, DiffLine::Same(_) | DiffLine::Fold(_)))
            .collect();
        assert_eq!(
            changed,
            vec![
                &DiffLine::Left {
                    text: "        \"cake\",".into(),
                    span: Some((9, 12))
                },
                &DiffLine::Right {
                    text: "        \"pie\",".into(),
                    span: Some((9, 11))
                },
            ],
            "{d:?}"
        );
        assert_eq!(
            plain(&diff("\"ab\\tc\"", "\"abc\"")),
            vec!["- \"ab\\tc\"", "     ^^", "+ \"abc\"", "     "]
                .into_iter()
                .filter(|l| !l.trim().is_empty())
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn long_unchanged_runs_fold() {
        let left: Vec<String> = (0..50).map(|i| format!("line {i}")).collect();
        let mut right = left.clone();
        right[25] = "line twenty-five".into();
        let d = diff(&left.join("\n"), &right.join("\n"));
        assert_eq!(d.first(), Some(&DiffLine::Fold(22)));
        assert_eq!(d.last(), Some(&DiffLine::Fold(21)));
        assert!(plain(&d).contains(&"  … 22 identical lines …".to_owned()));
    }
}
