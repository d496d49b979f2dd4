//! The last complete `nextest list` of the workspace, kept between sessions
//! under `target/vigil` (one per build: plain or instrumented), so that a
//! full run whose build changes no test binary starts without listing again.
//! A file that cannot be read is no cache: nextest lists as before.

use std::path::{Path, PathBuf};

use crate::core::msg::ListedSuite;

fn path(target_dir: &Path, coverage: bool) -> PathBuf {
    let name = if coverage { "list-coverage.json" } else { "list.json" };
    super::state_dir(target_dir).join(name)
}

pub fn load(target_dir: &Path, coverage: bool) -> Option<Vec<ListedSuite>> {
    let text = std::fs::read_to_string(path(target_dir, coverage)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Writes through a temporary file: a crash mid-write leaves the old one.
pub fn save(target_dir: &Path, coverage: bool, suites: &[ListedSuite]) {
    if let Some((path, bytes)) = encoded(target_dir, coverage, suites) {
        let _ = super::keep::write_atomic(&path, &bytes);
    }
}

/// Where the listing is kept and its bytes.
pub(crate) fn encoded(
    target_dir: &Path,
    coverage: bool,
    suites: &[ListedSuite],
) -> Option<(std::path::PathBuf, Vec<u8>)> {
    let json = serde_json::to_vec(suites).ok()?;
    Some((path(target_dir, coverage), json))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::msg::ListedTest;

    #[test]
    fn a_saved_listing_loads_back_and_garbage_is_no_cache() {
        let dir = std::env::temp_dir().join(format!("vigil-list-cache-{}", std::process::id()));
        let suites = vec![ListedSuite {
            binary_id: "money".into(),
            package: "money".into(),
            binary_name: "money".into(),
            kind: "lib".into(),
            binary_path: "/t/debug/deps/money-1".into(),
            tests: vec![ListedTest {
                name: "tests::adds".into(),
                ignored: false,
                selected: true,
            }],
        }];
        save(&dir, false, &suites);
        assert_eq!(load(&dir, false), Some(suites));
        assert_eq!(load(&dir, true), None, "the instrumented build has its own");
        std::fs::write(path(&dir, false), "{not json").unwrap();
        assert_eq!(load(&dir, false), None);
        let _ = std::fs::remove_dir_all(dir);
    }
}
