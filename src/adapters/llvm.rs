//! Finding `llvm-cov` and `llvm-profdata` that read the profiles this
//! compiler writes. In order: `LLVM_COV`/`LLVM_PROFDATA`; rustup's
//! `llvm-tools` component in the toolchain's sysroot; Debian's `llvm-NN`
//! packages. Each candidate's version is checked: LLVM 14 (Debian 12's
//! plain `llvm-cov`) cannot read today's raw profiles, LLVM 22 cannot read
//! LLVM 23's (format 11), and none is newer than the compiler's.

use std::path::{Path, PathBuf};

/// The oldest LLVM whose tools read raw profile version 10.
const OLDEST: u32 = 19;

/// The raw profile format an LLVM writes: 10 up to LLVM 22, 11 from 23.
fn raw_format(major: u32) -> u32 {
    if major >= 23 {
        11
    } else {
        10
    }
}

/// The tools' LLVM versions that read what a compiler of LLVM `compiler`
/// writes: those of its raw profile format (a newer format is read by no
/// older tool, and an older one by none of 23's: measured, llvm-profdata
/// 22 refuses nightly 1.101's profiles), and none newer than the compiler
/// (`u32::MAX`: the compiler's version is unknown).
pub(crate) fn readable_by(compiler: u32) -> std::ops::RangeInclusive<u32> {
    if compiler == u32::MAX {
        // The compiler's version is unknown: whatever reads.
        return OLDEST..=compiler;
    }
    let oldest = (OLDEST..=compiler)
        .find(|&m| raw_format(m) == raw_format(compiler))
        .unwrap_or(OLDEST);
    oldest..=compiler
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LlvmTools {
    pub cov: PathBuf,
    pub profdata: PathBuf,
    pub major: u32,
    /// The compiler's host triple (`x86_64-unknown-linux-gnu`): where
    /// cargo looks for a target runner.
    pub host: Option<String>,
}

pub(crate) const INSTALL_HINT: &str =
    "install them with `rustup component add llvm-tools`, or `apt-get install llvm-22` \
     on Debian, or point LLVM_COV and LLVM_PROFDATA at them";

/// `… LLVM version 22.1.8 …` → 22.
pub(crate) fn parse_major(text: &str) -> Option<u32> {
    let after = &text[text.find("LLVM version")? + "LLVM version".len()..];
    let word = after.trim_start_matches([':', ' ']).split_whitespace().next()?;
    word.split('.').next()?.parse().ok()
}

fn version_of(tool: &Path) -> Option<u32> {
    let out = super::process::tied(tool).arg("--version").output().ok()?;
    parse_major(&String::from_utf8_lossy(&out.stdout))
}

/// The active rustc's LLVM major version and host triple.
fn rustc_info(dir: &Path) -> (Option<u32>, Option<String>) {
    let Ok(out) = super::process::tied("rustc").arg("-vV").current_dir(dir).output() else {
        return (None, None);
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let host = text.lines().find_map(|l| l.strip_prefix("host: ").map(str::to_owned));
    (parse_major(&text), host)
}

fn candidates(dir: &Path) -> Vec<(PathBuf, PathBuf)> {
    let mut out = Vec::new();
    if let (Some(c), Some(p)) = (std::env::var_os("LLVM_COV"), std::env::var_os("LLVM_PROFDATA")) {
        out.push((PathBuf::from(c), PathBuf::from(p)));
        return out;
    }
    let sysroot = super::process::tied("rustc")
        .args(["--print", "sysroot"])
        .current_dir(dir)
        .output()
        .ok();
    let host = super::process::tied("rustc")
        .args(["-vV"])
        .current_dir(dir)
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        });
    if let (Some(root), Some(host)) = (sysroot, host) {
        let bin = PathBuf::from(String::from_utf8_lossy(&root.stdout).trim())
            .join("lib/rustlib")
            .join(host)
            .join("bin");
        out.push((bin.join("llvm-cov"), bin.join("llvm-profdata")));
    }
    for major in (OLDEST..=30).rev() {
        let bin = PathBuf::from(format!("/usr/lib/llvm-{major}/bin"));
        out.push((bin.join("llvm-cov"), bin.join("llvm-profdata")));
    }
    out
}

/// Why no usable llvm-cov/llvm-profdata pair was found.
#[derive(Debug, thiserror::Error)]
#[error("coverage is off: {}no llvm-cov/llvm-profdata of {wanted}{}; {INSTALL_HINT}",
    if *.explicit { "LLVM_COV/LLVM_PROFDATA are not usable: " } else { "" },
    if .found.is_empty() { String::new() } else { format!(" (found: {})", .found.join("; ")) })]
pub struct ToolsNotFound {
    /// The versions that would do.
    pub wanted: String,
    /// What was found instead, and why it does not do.
    pub found: Vec<String>,
    /// The pair came from LLVM_COV/LLVM_PROFDATA.
    pub explicit: bool,
}

/// The first usable pair, or why there is none (a line for the user).
pub fn discover(dir: &Path) -> Result<LlvmTools, ToolsNotFound> {
    let (newest, host) = rustc_info(dir);
    let newest = newest.unwrap_or(u32::MAX);
    let explicit = std::env::var_os("LLVM_COV").is_some();
    let mut seen = Vec::new();
    for (cov, profdata) in candidates(dir) {
        if !cov.exists() || !profdata.exists() {
            continue;
        }
        match version_of(&cov) {
            Some(major) if readable_by(newest).contains(&major) => {
                return Ok(LlvmTools {
                    cov,
                    profdata,
                    major,
                    host,
                })
            }
            Some(major) => seen.push(format!("{} is LLVM {major}", cov.display())),
            None => seen.push(format!("{} did not say its version", cov.display())),
        }
    }
    let wanted = if newest == u32::MAX {
        format!("LLVM {OLDEST} or newer")
    } else {
        let range = readable_by(newest);
        format!(
            "LLVM {}–{}, to read this compiler's profiles",
            range.start(),
            range.end()
        )
    };
    Err(ToolsNotFound {
        wanted,
        found: seen,
        explicit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_from_tools_and_rustc() {
        assert_eq!(parse_major("Debian LLVM version 14.0.6\n  Optimized build."), Some(14));
        assert_eq!(
            parse_major("LLVM (http://llvm.org/):\n  LLVM version 22.1.8\n"),
            Some(22)
        );
        assert_eq!(parse_major("rustc 1.95.0\nLLVM version: 22.1.2\n"), Some(22));
        assert_eq!(parse_major("nothing"), None);
    }

    #[test]
    fn tools_must_read_the_compilers_raw_profile_format() {
        assert_eq!(readable_by(22), 19..=22);
        assert_eq!(readable_by(20), 19..=20);
        // LLVM 23 writes format 11, which LLVM 22's tools refuse.
        assert_eq!(readable_by(23), 23..=23);
        assert_eq!(readable_by(24), 23..=24);
        assert!(readable_by(u32::MAX).contains(&22));
    }
}
