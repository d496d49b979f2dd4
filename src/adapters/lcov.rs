//! LCOV, both ways: parses what `llvm-cov export -format=lcov` prints into
//! the core's coverage (its line attribution is llvm-cov's own, so vigil's
//! figures are llvm-cov's), and writes the model back out for editors and CI.

use std::fmt::Write as _;
use std::path::Path;

use crate::core::coverage::{Coverage, FileCoverage};

/// Parses LCOV text; paths are made relative to `root` when under it.
/// Unknown or malformed records are skipped, never fatal.
pub fn parse(text: &str, root: &Path) -> Coverage {
    let root = root.display().to_string();
    let mut cov = Coverage::default();
    let mut file: Option<FileCoverage> = None;
    for line in text.lines() {
        let Some((tag, value)) = line.split_once(':') else {
            if line == "end_of_record" {
                cov.files.extend(file.take());
            }
            continue;
        };
        let Some(f) = (if tag == "SF" { None } else { file.as_mut() }) else {
            if tag == "SF" {
                let path = value
                    .strip_prefix(&root)
                    .map(|p| p.trim_start_matches('/'))
                    .unwrap_or(value);
                file = Some(FileCoverage {
                    path: path.to_owned(),
                    ..FileCoverage::default()
                });
            }
            continue;
        };
        let mut parts = value.split(',');
        match tag {
            "DA" => {
                if let (Some(Ok(l)), Some(Ok(c))) = (parts.next().map(str::parse), parts.next().map(str::parse::<u64>))
                {
                    let e = f.lines.entry(l).or_insert(0);
                    *e = (*e).max(c);
                }
            }
            "BRDA" => {
                let fields: Vec<&str> = value.split(',').collect();
                if let [line, _block, branch, taken] = fields[..] {
                    if let (Ok(line), Ok(branch)) = (line.parse(), branch.parse()) {
                        f.branches.push((line, branch, taken.parse().ok()));
                    }
                }
            }
            "LF" => f.summary_lines = Some((value.parse().unwrap_or(0), f.summary_lines.map_or(0, |s| s.1))),
            "LH" => f.summary_lines = Some((f.summary_lines.map_or(0, |s| s.0), value.parse().unwrap_or(0))),
            "BRF" => f.summary_branches = Some((value.parse().unwrap_or(0), f.summary_branches.map_or(0, |s| s.1))),
            "BRH" => f.summary_branches = Some((f.summary_branches.map_or(0, |s| s.0), value.parse().unwrap_or(0))),
            "FNF" => f.functions_found = value.parse().unwrap_or(0),
            "FNH" => f.functions_hit = value.parse().unwrap_or(0),
            _ => {}
        }
    }
    cov.files.extend(file);
    cov.branches_measured = cov.files.iter().any(|f| !f.branches.is_empty());
    cov.files.sort_by(|a, b| a.path.cmp(&b.path));
    cov
}

/// The model as LCOV (paths absolute under `root`), for Coverage Gutters and CI.
pub fn write(cov: &Coverage, root: &Path) -> String {
    let mut out = String::new();
    for f in &cov.files {
        let _ = writeln!(out, "SF:{}", root.join(&f.path).display());
        let _ = writeln!(out, "FNF:{}\nFNH:{}", f.functions_found, f.functions_hit);
        for (line, count) in &f.lines {
            let _ = writeln!(out, "DA:{line},{count}");
        }
        for (i, (line, branch, taken)) in f.branches.iter().enumerate() {
            let taken = taken.map_or("-".to_owned(), |t| t.to_string());
            let _ = writeln!(out, "BRDA:{line},{},{branch},{taken}", i / 2);
        }
        let b = f.branch_ratio();
        let l = f.line_ratio();
        let _ = writeln!(
            out,
            "BRF:{}\nBRH:{}\nLF:{}\nLH:{}\nend_of_record",
            b.count, b.covered, l.count, l.covered
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LCOV: &str = "SF:/w/money/src/lib.rs\nFNF:2\nFNH:1\nDA:3,4\nDA:4,0\nDA:5,0\nBRDA:4,0,0,1\nBRDA:4,0,1,-\nBRF:2\nBRH:1\nLF:3\nLH:1\nend_of_record\nSF:/w/orders/src/lib.rs\nDA:1,1\nend_of_record\n";

    #[test]
    fn parses_lines_branches_and_relative_paths() {
        let cov = parse(LCOV, Path::new("/w"));
        assert_eq!(cov.files.len(), 2);
        let f = cov.file("money/src/lib.rs").unwrap();
        assert_eq!(f.line_ratio().covered, 1);
        assert_eq!(f.uncovered_ranges(), vec![[4, 5]]);
        assert_eq!(f.branches, vec![(4, 0, Some(1)), (4, 1, None)]);
        assert!(cov.branches_measured);
        assert_eq!(cov.lines().count, 4);
    }

    #[test]
    fn writes_back_what_it_read() {
        let cov = parse(LCOV, Path::new("/w"));
        let again = parse(&write(&cov, Path::new("/w")), Path::new("/w"));
        assert_eq!(again.files.len(), cov.files.len());
        for (a, b) in again.files.iter().zip(&cov.files) {
            assert_eq!((&a.path, &a.lines, &a.branches), (&b.path, &b.lines, &b.branches));
            assert_eq!((a.line_ratio(), a.branch_ratio()), (b.line_ratio(), b.branch_ratio()));
        }
    }

    #[test]
    fn garbage_is_skipped_not_fatal() {
        let cov = parse(
            "DA:1,1\nSF\nSF:/w/a.rs\nDA:x,y\nBRDA:1\nDA:2,3\nend_of_record\nnoise",
            Path::new("/w"),
        );
        assert_eq!(cov.files.len(), 1);
        assert_eq!(cov.files[0].lines.len(), 1);
    }
}
