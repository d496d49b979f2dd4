//! insta's snapshot failures: which snapshot failed (`Snapshot file:`), and
//! the diff insta printed of it (old snapshot against new results), read
//! from the test's output; accepting one is moving its `.snap.new` into
//! place, as `cargo insta accept` does for it.

use super::assertion::{strip_ansi, DiffLine};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The `.snap` file, as insta names it (relative to the package).
    pub file: String,
    /// Old snapshot (`-`, left) against new results (`+`, right).
    pub diff: Vec<DiffLine>,
}

/// The snapshot a test's output says failed, if any.
pub fn snapshot(output: &str) -> Option<Snapshot> {
    let text = strip_ansi(output);
    let start = text.find("Snapshot Summary")?;
    let block = &text[start..];
    let file = block
        .lines()
        .find_map(|l| l.strip_prefix("Snapshot file: "))?
        .trim()
        .to_owned();
    let mut diff = Vec::new();
    for l in block.lines() {
        // `    2       │-old`, `          2 │+new`, `    1     1 │ same`.
        let Some((numbers, rest)) = l.split_once('│') else {
            continue;
        };
        if !numbers.chars().all(|c| c.is_ascii_digit() || c == ' ') || numbers.trim().is_empty() {
            continue;
        }
        let mut chars = rest.chars();
        let text: String = chars.clone().skip(1).collect();
        match chars.next() {
            Some('-') => diff.push(DiffLine::Left { text, span: None }),
            Some('+') => diff.push(DiffLine::Right { text, span: None }),
            _ => diff.push(DiffLine::Same(text)),
        }
    }
    Some(Snapshot {
        file,
        diff: super::assertion::refine(diff),
    })
}

/// Whether the workspace uses insta (a dependency in its graph).
pub fn used(ws: &super::catalog::Workspace) -> bool {
    ws.graph.nodes.iter().any(|n| n.name == "insta")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// insta 1.49's output for a changed line (recorded).
    const OUTPUT: &str = "━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━ Snapshot Summary ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━
Snapshot file: src/snapshots/probe__tests__greets.snap
Snapshot: greets
Source: src/lib.rs:9
────────────────────────────────────────────────────────────────────────────────
Expression: super::greeting(\"world\")
────────────────────────────────────────────────────────────────────────────────
-old snapshot
+new results
────────────┬───────────────────────────────────────────────────────────────────
    1     1 │ Hello, world!
    2       │-Have a good day.
          2 │+Have a nice day.
    3     3 │ Bye.
────────────┴───────────────────────────────────────────────────────────────────
To update snapshots run `cargo insta review` or set `INSTA_UPDATE=always`

thread 'tests::greets' panicked at insta-1.49.0/src/runtime.rs:734:13:
snapshot assertion for 'greets' failed in line 9";

    #[test]
    fn a_snapshot_failure_names_its_file_and_diff() {
        let s = snapshot(OUTPUT).unwrap();
        assert_eq!(s.file, "src/snapshots/probe__tests__greets.snap");
        assert_eq!(
            s.diff,
            vec![
                DiffLine::Same("Hello, world!".into()),
                DiffLine::Left {
                    text: "Have a good day.".into(),
                    span: Some((7, 11))
                },
                DiffLine::Right {
                    text: "Have a nice day.".into(),
                    span: Some((7, 11))
                },
                DiffLine::Same("Bye.".into()),
            ]
        );
        assert!(snapshot("thread 't' panicked at src/lib.rs:1:1:\nboom").is_none());
    }
}
