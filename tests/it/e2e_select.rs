//! Selection on the `graph` fixture, checked against the reference tools:
//! for a source change, the binaries vigil selects are exactly the ones
//! nextest's own `rdeps()` selects; for inputs that are not Rust sources
//! (`include_str!` targets, `rerun-if-changed` files, a path dependency
//! outside the workspace), exactly the test binaries cargo rebuilds.
//! Members there are tied by `[patch.crates-io]`, a renamed dependency, a
//! build-dependency, a target-specific dependency and a dev-dependency that
//! reaches a member through a registry crate (`lock_api` → `scopeguard`).

use crate::common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{events, fixture, json_lines, vigil};
use serde_json::Value;

fn ws() -> PathBuf {
    fixture("graph").join("ws")
}

/// `vigil run --changed FILE`: its `run_started` event (None when the
/// change was ignored) and the exit code.
fn plan(file: &Path) -> (Option<Value>, Vec<Value>) {
    let out = vigil()
        .arg("run")
        .arg(ws())
        .args(["--format", "json", "--changed"])
        .arg(file)
        .output()
        .expect("vigil runs");
    let lines = json_lines(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let started = events(&lines, "run_started").first().map(|v| (*v).clone());
    (started, lines)
}

fn selected(started: &Value) -> BTreeSet<String> {
    started["selected"]["binaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap().to_owned())
        .collect()
}

fn reason<'a>(started: &'a Value, binary: &str) -> &'a str {
    started["binary_reasons"][binary]
        .as_str()
        .unwrap_or_else(|| panic!("no reason for {binary}: {started}"))
}

/// The binaries with a test that `cargo nextest list -E EXPR` selects.
fn nextest_selects(expr: &str) -> BTreeSet<String> {
    let out = Command::new("cargo")
        .args(["nextest", "list", "--message-format", "json", "-E", expr])
        .current_dir(ws())
        .env_remove("NEXTEST_RUN_ID")
        .output()
        .expect("cargo nextest runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    list["rust-suites"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, s)| {
            s["testcases"]
                .as_object()
                .is_some_and(|t| t.values().any(|c| c["filter-match"]["status"] == "matches"))
        })
        .map(|(id, _)| id.clone())
        .collect()
}

/// Marks `file` modified (same contents, new mtime) and returns the test
/// binaries cargo then rebuilds, by nextest binary id.
fn cargo_rebuilds(file: &Path) -> BTreeSet<String> {
    std::fs::File::options()
        .append(true)
        .open(file)
        .unwrap()
        .set_modified(std::time::SystemTime::now())
        .unwrap();
    let out = Command::new("cargo")
        .args(["test", "--no-run", "--workspace", "--message-format", "json"])
        .current_dir(ws())
        .output()
        .expect("cargo runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut rebuilt = BTreeSet::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if v["reason"] != "compiler-artifact" || v["fresh"] != false || v["executable"].is_null() {
            continue;
        }
        let package = v["package_id"].as_str().unwrap_or_default();
        // `path+file:///…/ws/app#0.1.0` → `app`
        let package = package
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .split('#')
            .next()
            .unwrap_or_default();
        let target = v["target"]["name"].as_str().unwrap_or_default();
        let kinds = v["target"]["kind"].to_string();
        rebuilt.insert(if kinds.contains("\"test\"") {
            format!("{package}::{target}")
        } else {
            package.to_owned()
        });
    }
    rebuilt
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn selection_matches_nextest_rdeps_and_cargo_rebuilds_on_the_graph_fixture() {
    let root = ws();
    // One full run: builds the fixture, so cargo's records of what each
    // compilation read exist.
    let out = vigil()
        .arg("run")
        .arg(&root)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));

    // Sources: exactly nextest's rdeps(), with the chain named.
    let (started, _) = plan(&root.join("scopeguard/src/lib.rs"));
    let started = started.expect("a run");
    assert_eq!(selected(&started), nextest_selects("rdeps(scopeguard)"));
    assert_eq!(
        selected(&started),
        set(&["alias", "app", "app::locking", "scopeguard", "web"])
    );
    assert_eq!(
        reason(&started, "web"),
        "`scopeguard/src/lib.rs` changed; `web` depends on `scopeguard` (through `[patch.crates-io]`)"
    );
    assert!(
        reason(&started, "app::locking").contains("`app`'s tests reach `scopeguard` through `lock_api`"),
        "{started}"
    );

    let (started, _) = plan(&root.join("web/src/lib.rs"));
    let started = started.expect("a run");
    assert_eq!(selected(&started), nextest_selects("rdeps(web)"));
    assert!(
        reason(&started, "alias").contains("`web` renamed `helper`"),
        "{started}"
    );

    let (started, _) = plan(&root.join("data/src/lib.rs"));
    let started = started.expect("a run");
    assert_eq!(selected(&started), nextest_selects("rdeps(data)"));
    assert!(reason(&started, "alias").contains("`alias`'s build script depends on `data`"));

    let (started, _) = plan(&root.join("built/src/lib.rs"));
    let started = started.expect("a run");
    assert_eq!(selected(&started), nextest_selects("rdeps(built)"));
    assert!(reason(&started, "app").contains("on `cfg(unix)`"), "{started}");

    // Inputs that are not Rust sources: exactly what cargo rebuilds.
    let outside = fixture("graph").join("outside");
    let cases: &[(PathBuf, &str)] = &[
        (root.join("data/fixtures/words.txt"), "(read when compiling `data`)"),
        (outside.join("shared.txt"), "(read when compiling `data`)"),
        (root.join("built/data/x.txt"), "(`built`'s build script reruns on it)"),
        (outside.join("tiny/src/lib.rs"), "`app` depends on `tiny`"),
    ];
    for (file, why) in cases {
        let (started, _) = plan(file);
        let started = started.unwrap_or_else(|| panic!("{} selected nothing", file.display()));
        let chosen = selected(&started);
        assert_eq!(chosen, cargo_rebuilds(file), "{}", file.display());
        assert!(
            chosen.iter().any(|b| reason(&started, b).contains(why)),
            "{}: {started}",
            file.display()
        );
    }

    // A file no package holds and no compilation read: nothing, and a pass.
    let (started, lines) = plan(&root.join("NOTES.md"));
    assert!(started.is_none(), "no run for NOTES.md");
    assert_eq!(events(&lines, "change_ignored")[0]["changed"][0], "NOTES.md");

    // `data` excludes `/ci/` and `/fixtures/` from its package: a file
    // there is placed like one outside every package (nothing), unless a
    // compilation reads it (`fixtures/words.txt`, above); a file the
    // manifest keeps is the package's.
    let (started, lines) = plan(&root.join("data/ci/lint.sh"));
    assert!(started.is_none(), "no run for an excluded file: {started:?}");
    assert_eq!(events(&lines, "change_ignored")[0]["changed"][0], "data/ci/lint.sh");
    // With coverage on, each test's run-time reads are recorded: a file
    // the package keeps that no build and no test reads selects nothing.
    // Without (no LLVM tools here), it is the package's: `rdeps(data)`.
    let traced = vigil::adapters::llvm::discover(&root).is_ok();
    let (started, lines) = plan(&root.join("data/NOTES.txt"));
    if traced {
        assert!(started.is_none(), "no build or test reads it: {started:?}");
        assert_eq!(events(&lines, "change_ignored")[0]["why"], "no build or test reads it");
    } else {
        let started = started.expect("a file the package keeps");
        assert_eq!(selected(&started), nextest_selects("rdeps(data)"));
    }
}

/// Manifests and the lock file by what changed, on the `locked` fixture
/// (`formats` uses the registry crate `itoa`; `version` reads
/// `CARGO_PKG_VERSION`; `quiet` reads no metadata): a lock change to
/// `itoa` runs `formats` alone, as cargo rebuilds it alone; a version bump
/// runs the package that reads its version, or nothing; an edition change
/// runs everything.
#[test]
fn manifests_and_the_lock_file_select_by_what_changed() {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("locked-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    common::copy_dir(&fixture("locked"), &root);
    let first = vigil()
        .arg("run")
        .arg(&root)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let changed = |files: &[&str]| {
        let mut cmd = vigil();
        cmd.arg("run").arg(&root).args(["--format", "json", "--changed"]);
        for f in files {
            cmd.arg(root.join(f));
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        json_lines(&out.stdout)
    };
    let binaries = |lines: &[Value]| -> BTreeSet<String> {
        events(lines, "run_started")
            .first()
            .map(|s| selected(s))
            .unwrap_or_default()
    };
    let cargo = |args: &[&str]| {
        let out = Command::new("cargo").args(args).current_dir(&root).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };

    cargo(&["update", "-p", "itoa", "--precise", "1.0.11"]);
    let lines = changed(&["Cargo.lock"]);
    assert_eq!(binaries(&lines), set(&["formats"]), "{lines:?}");
    let started = events(&lines, "run_started")[0];
    assert!(
        reason(started, "formats").contains("`itoa 1.0.10` left the lock file; `formats` depends on it"),
        "{started}"
    );

    let bump = |member: &str, from: &str, to: &str| {
        let path = root.join(member).join("Cargo.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    };
    bump("version", "version = \"0.1.0\"", "version = \"0.2.0\"");
    let lines = changed(&["version/Cargo.toml", "Cargo.lock"]);
    assert_eq!(binaries(&lines), set(&["version"]), "{lines:?}");
    assert!(reason(events(&lines, "run_started")[0], "version").contains("`version` reads `CARGO_PKG_VERSION`"));

    bump("quiet", "version = \"0.1.0\"", "version = \"0.2.0\"");
    let lines = changed(&["quiet/Cargo.toml", "Cargo.lock"]);
    assert!(binaries(&lines).is_empty(), "{lines:?}");
    assert_eq!(
        events(&lines, "change_ignored")[0]["changed"],
        serde_json::json!(["quiet/Cargo.toml", "Cargo.lock"])
    );

    bump("quiet", "edition = \"2021\"", "edition = \"2024\"");
    let lines = changed(&["quiet/Cargo.toml"]);
    assert_eq!(binaries(&lines), set(&["formats", "quiet", "version"]), "{lines:?}");
    assert!(events(&lines, "run_started")[0]["reasons"][0]
        .as_str()
        .unwrap()
        .contains("`edition` changed"));
    std::fs::remove_dir_all(&root).unwrap();
}
