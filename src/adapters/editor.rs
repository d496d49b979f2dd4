//! Opening a location in the user's editor (`$VISUAL`, else `$EDITOR`),
//! with the line for the editors that take one: terminal editors take the
//! terminal and are waited for; GUI editors are not.

use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EditorCommand {
    pub program: String,
    pub args: Vec<String>,
    /// A terminal editor: vigil leaves the screen to it and waits.
    pub wait: bool,
}

/// The editor the user set: `$VISUAL`, else `$EDITOR`.
pub fn from_env() -> Option<String> {
    ["VISUAL", "EDITOR"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .find(|v| !v.trim().is_empty())
}

/// How to open `file` at `line` with `editor` (a program and its own
/// arguments, as in `EDITOR="code -w"`).
pub fn command(editor: &str, file: &Path, line: Option<u32>) -> Option<EditorCommand> {
    let mut words = editor.split_whitespace();
    let program = words.next()?.to_owned();
    let mut args: Vec<String> = words.map(str::to_owned).collect();
    let name = Path::new(&program)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let file_s = file.display().to_string();
    let terminal = [
        "vi",
        "vim",
        "nvim",
        "emacs",
        "emacsclient",
        "hx",
        "helix",
        "nano",
        "micro",
        "kak",
        "joe",
        "ne",
        "mg",
        "ed",
    ];
    // Every terminal editor but `ed` takes `+LINE file`, and so does gvim.
    let plus_line = |n: &str| (terminal.contains(&n) && n != "ed") || n == "gvim";
    match (name.as_str(), line) {
        ("code" | "code-insiders" | "codium" | "cursor", Some(l)) => {
            args.push("--goto".into());
            args.push(format!("{file_s}:{l}"));
        }
        ("subl" | "zed", Some(l)) => args.push(format!("{file_s}:{l}")),
        (n, Some(l)) if plus_line(n) => {
            args.push(format!("+{l}"));
            args.push(file_s);
        }
        _ => args.push(file_s),
    }
    Some(EditorCommand {
        wait: terminal.contains(&name.as_str()),
        program,
        args,
    })
}

/// Where test `name` (its last path segment) is defined, searching the
/// `.rs` files under `dirs`: the file and the line of its `fn`.
pub(crate) fn find_test(dirs: &[PathBuf], name: &str) -> Option<(PathBuf, u32)> {
    let last = name.rsplit("::").next().unwrap_or(name);
    let needle = format!("fn {last}(");
    let mut stack: Vec<PathBuf> = dirs.to_vec();
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "target") {
                    stack.push(p);
                }
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).unwrap_or_default();
                if let Some(i) = text.lines().position(|l| l.contains(&needle)) {
                    return Some((p, i as u32 + 1));
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editors_get_the_line_their_way() {
        let f = Path::new("/w/src/lib.rs");
        let c = command("nvim", f, Some(12)).unwrap();
        assert_eq!((c.args, c.wait), (vec!["+12".to_owned(), "/w/src/lib.rs".into()], true));
        let c = command("/usr/bin/hx", f, Some(3)).unwrap();
        assert_eq!(c.args, vec!["+3".to_owned(), "/w/src/lib.rs".into()]);
        let c = command("code -w", f, Some(7)).unwrap();
        assert_eq!(
            (c.program.as_str(), c.args, c.wait),
            (
                "code",
                vec!["-w".to_owned(), "--goto".into(), "/w/src/lib.rs:7".into()],
                false
            )
        );
        let c = command("gedit", f, Some(7)).unwrap();
        assert_eq!(
            (c.args, c.wait),
            (vec!["/w/src/lib.rs".to_owned()], false),
            "others: just the file"
        );
        let c = command("emacs -nw", f, None).unwrap();
        assert_eq!((c.args, c.wait), (vec!["-nw".to_owned(), "/w/src/lib.rs".into()], true));
        assert!(command("  ", f, None).is_none());
    }
}
