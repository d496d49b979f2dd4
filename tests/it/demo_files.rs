//! The demo workspace shipped in the binary is all of `assets/demo`, and it
//! writes out as a workspace cargo can read.

use std::path::{Path, PathBuf};

fn files_under(dir: &Path, base: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.file_name().is_some_and(|n| n == "target") {
            continue;
        }
        if path.is_dir() {
            files_under(&path, base, out);
        } else {
            out.push(path.strip_prefix(base).unwrap().display().to_string());
        }
    }
}

#[test]
fn every_file_of_the_demo_is_embedded() {
    let base = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
    let mut on_disk = Vec::new();
    files_under(&base, &base, &mut on_disk);
    on_disk.sort();
    let mut embedded: Vec<String> = vigil::demo::FILES.iter().map(|(p, _)| p.to_string()).collect();
    embedded.sort();
    assert_eq!(embedded, on_disk);
}

#[test]
fn the_demo_writes_out_as_a_workspace() {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("demo-out-{}", std::process::id()));
    vigil::demo::Demo::write_to(&root).unwrap();
    let ws = vigil::adapters::workspace::discover(&root).unwrap();
    let names: Vec<&str> = ws.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, vec!["money", "orders"]);
    assert_eq!(ws.dependents("money"), vec!["orders".to_string()]);
    std::fs::remove_dir_all(&root).unwrap();
}
