//! Accepting insta snapshots: each pending `<snap>.new` moved onto its
//! `<snap>`, which is what `cargo insta accept` does for one snapshot.

use std::path::PathBuf;

/// Moves each `<snap>.new` into place; how many moved, and why the others
/// did not.
pub fn accept(snaps: &[PathBuf]) -> (usize, Vec<String>) {
    let mut accepted = 0;
    let mut errors = Vec::new();
    for snap in snaps {
        let mut pending = snap.clone().into_os_string();
        pending.push(".new");
        let pending = PathBuf::from(pending);
        if !pending.exists() {
            errors.push(format!(
                "no pending {} (insta writes it outside CI; INSTA_UPDATE=new writes it anywhere)",
                pending.display()
            ));
            continue;
        }
        match std::fs::rename(&pending, snap) {
            Ok(()) => accepted += 1,
            Err(e) => errors.push(format!("failed to move {} into place: {e}", pending.display())),
        }
    }
    (accepted, errors)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_pending_snapshot_is_moved_into_place() {
        let dir = std::env::temp_dir().join(format!("vigil-snap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let snap = dir.join("a.snap");
        std::fs::write(&snap, "old").unwrap();
        std::fs::write(dir.join("a.snap.new"), "new").unwrap();
        let (n, errors) = super::accept(&[snap.clone(), dir.join("b.snap")]);
        assert_eq!(n, 1);
        assert_eq!(std::fs::read_to_string(&snap).unwrap(), "new");
        assert!(!dir.join("a.snap.new").exists());
        assert!(errors[0].contains("b.snap.new"), "{errors:?}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
