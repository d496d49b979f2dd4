//! `vigil report --html DIR`: a browsable coverage report — an index of
//! files with their line and branch coverage, and a page per file with its
//! source, uncovered lines and never-taken branch outcomes marked.

use std::fmt::Write as _;
use std::path::Path;

use crate::core::coverage::{Coverage, FileCoverage};

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page_name(path: &str) -> String {
    format!("{}.html", path.replace(['/', '\\'], "__"))
}

const STYLE: &str = "body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}\
td,th{padding:2px 10px;text-align:left}tr:nth-child(even){background:#f4f4f4}\
.bad{color:#b00020;font-weight:bold}.ok{color:#1b7f3b}pre{margin:0}\
.src td{padding:0 8px;font:13px ui-monospace,monospace;white-space:pre}\
.miss{background:#fde2e1}.hit{background:#e6f4ea}.n{color:#888;text-align:right}.br{color:#a15c00}";

/// Writes the report into `dir`; sources are read from `root`.
pub fn write(cov: &Coverage, root: &Path, dir: &Path) -> std::io::Result<usize> {
    std::fs::create_dir_all(dir)?;
    let mut index = String::new();
    let l = cov.lines();
    let _ = write!(
        index,
        "<!doctype html><meta charset=utf-8><title>coverage</title><style>{STYLE}</style>\
         <h1>Coverage</h1><p>lines {:.2} % ({}/{})",
        l.percent, l.covered, l.count
    );
    if let Some(b) = cov.branches() {
        let _ = write!(index, " · branches {:.2} % ({}/{})", b.percent, b.covered, b.count);
    }
    index.push_str("</p><table><tr><th>file<th>lines<th>branches<th>uncovered lines</tr>");
    for f in &cov.files {
        let r = f.line_ratio();
        let class = if r.percent < 100.0 { "bad" } else { "ok" };
        let branches = if cov.branches_measured {
            format!("{:.1} %", f.branch_ratio().percent)
        } else {
            "–".to_owned()
        };
        let _ = write!(
            index,
            "<tr><td><a href=\"{}\">{}</a><td class={class}>{:.1} %<td>{branches}<td>{}</tr>",
            page_name(&f.path),
            escape(&f.path),
            r.percent,
            r.count - r.covered
        );
        std::fs::write(dir.join(page_name(&f.path)), file_page(f, root))?;
    }
    index.push_str("</table>");
    std::fs::write(dir.join("index.html"), index)?;
    Ok(cov.files.len())
}

fn file_page(f: &FileCoverage, root: &Path) -> String {
    let source = std::fs::read_to_string(root.join(&f.path)).unwrap_or_default();
    let missing = f.missing_branches();
    let r = f.line_ratio();
    let mut out = format!(
        "<!doctype html><meta charset=utf-8><title>{0}</title><style>{STYLE}</style>\
         <p><a href=index.html>all files</a></p><h1>{0}</h1><p>lines {1:.2} % ({2}/{3})</p><table class=src>",
        escape(&f.path),
        r.percent,
        r.covered,
        r.count
    );
    for (i, code) in source.lines().enumerate() {
        let n = i as u32 + 1;
        let class = match f.lines.get(&n) {
            Some(0) => "miss",
            Some(_) => "hit",
            None => "",
        };
        let count = f.lines.get(&n).map_or(String::new(), |c| c.to_string());
        let never: Vec<&str> = missing
            .iter()
            .filter(|m| m.line == n)
            .map(|m| m.outcome.as_str())
            .collect();
        let branch = if never.is_empty() {
            String::new()
        } else {
            format!("<span class=br> ◆ {} never</span>", never.join(" and "))
        };
        let _ = write!(
            out,
            "<tr class={class}><td class=n>{n}<td class=n>{count}<td>{}{branch}</tr>",
            escape(code)
        );
    }
    out.push_str("</table>");
    out
}
