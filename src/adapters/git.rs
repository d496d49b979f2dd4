//! git, run one way: `git <args>` in a directory, its output as text, or
//! why not (git missing, or its own error message).

use std::path::Path;

/// Why a git command gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("git could not be started: {0}")]
    Spawn(std::io::Error),
    #[error("`{command}` failed: {stderr}")]
    Failed { command: String, stderr: String },
}

/// `git <args>` in `dir` (tied to vigil: it dies with it).
pub fn git(dir: &Path, args: &[&str]) -> Result<String, GitError> {
    let out = super::process::tied("git")
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(GitError::Spawn)?;
    if !out.status.success() {
        return Err(GitError::Failed {
            command: format!("git {}", args.join(" ")),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
