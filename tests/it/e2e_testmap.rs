//! Per-test coverage end to end: vigil as nextest's target runner gives
//! every test its own profile, read natively into the lines it ran; the
//! maps are checked against llvm-cov's own whole-run figures.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::{fixture, json_lines, vigil};
use vigil::core::testmap::TestMap;

fn require_tools() -> bool {
    common::require_llvm(&fixture("tiers"))
}

fn maps() -> BTreeMap<String, TestMap> {
    let (store, _) = vigil::adapters::store::Store::open(&common::state_dir().join("history.sqlite")).unwrap();
    store
        .test_maps()
        .unwrap()
        .into_iter()
        .map(|(vigil::core::testmap::TestId(_, name), m)| (name, m))
        .collect()
}

fn lines(m: &TestMap, path: &str) -> BTreeSet<u32> {
    m.files
        .get(path)
        .map(|f| f.lines.iter().flat_map(|r| r[0]..=r[1]).collect())
        .unwrap_or_default()
}

/// The lines of `name`'s body in the fixture's source.
fn body(source: &str, name: &str) -> BTreeSet<u32> {
    let start = source.lines().position(|l| l.contains(&format!("fn {name}("))).unwrap() + 1;
    let len = source
        .lines()
        .skip(start - 1)
        .position(|l| l.starts_with('}') || l == "    }")
        .unwrap();
    (start as u32..=(start + len) as u32).collect()
}

/// Covered lines of `path` in an LCOV text (llvm-cov's own export).
fn lcov_covered(text: &str, path: &Path) -> BTreeSet<u32> {
    let mut inside = false;
    let mut out = BTreeSet::new();
    for line in text.lines() {
        if let Some(f) = line.strip_prefix("SF:") {
            inside = Path::new(f) == path;
        } else if let (true, Some(da)) = (inside, line.strip_prefix("DA:")) {
            let mut parts = da.split(',');
            let (n, c) = (parts.next().unwrap(), parts.next().unwrap());
            if c != "0" {
                out.insert(n.parse().unwrap());
            }
        }
    }
    out
}

#[test]
fn every_test_gets_its_own_map_and_together_they_are_llvm_covs_figure() {
    if !require_tools() {
        return;
    }
    let dir = fixture("tiers");
    let out = vigil().args(["run", "--format", "json"]).arg(&dir).output().unwrap();
    let events = json_lines(&out.stdout);
    let last = events.last().unwrap();
    assert_eq!(last["tests"]["passed"], 4, "{last}");
    let maps = maps();
    assert_eq!(
        maps.keys().collect::<Vec<_>>(),
        ["tests::limits", "tests::prices", "tests::taxes", "tests::totals"]
    );
    let source = std::fs::read_to_string(dir.join("tiers/src/lib.rs")).unwrap();
    let (price, tax, total) = (body(&source, "price"), body(&source, "tax"), body(&source, "total"));
    let prices = lines(&maps["tests::prices"], "tiers/src/lib.rs");
    let taxes = lines(&maps["tests::taxes"], "tiers/src/lib.rs");
    let totals = lines(&maps["tests::totals"], "tiers/src/lib.rs");
    // Two tests on disjoint functions, one on both.
    assert!(price.is_subset(&prices) && prices.is_disjoint(&tax), "{prices:?}");
    assert!(tax.is_subset(&taxes) && taxes.is_disjoint(&price), "{taxes:?}");
    assert!(price.is_subset(&totals) && tax.is_subset(&totals) && total.is_subset(&totals));
    // Each map says which content it was measured on.
    let hash = vigil::core::testmap::content_hash(source.as_bytes());
    assert!(maps.values().all(|m| m.files["tiers/src/lib.rs"].hash == hash));
    // Together, the maps are exactly the lines llvm-cov counts as covered
    // for the same run (the whole-run figure is merged from the same
    // per-test profiles).
    let union: BTreeSet<u32> = maps.values().flat_map(|m| lines(m, "tiers/src/lib.rs")).collect();
    let lcov = std::fs::read_to_string(common::state_dir().join("coverage/latest.lcov")).unwrap();
    assert_eq!(union, lcov_covered(&lcov, &dir.join("tiers/src/lib.rs")));
}

/// A copy of `tiers` with its own build (its sources are edited).
fn tiers_copy(tag: &str) -> std::path::PathBuf {
    let root =
        std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("tiers-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    common::copy_dir(&fixture("tiers"), &root);
    root
}

fn run_changed(root: &Path, file: &str) -> Vec<serde_json::Value> {
    // The workspace first: `--changed` takes every path after it.
    let out = vigil()
        .arg("run")
        .arg(root)
        .args(["--format", "json", "--changed"])
        .arg(root.join(file))
        .output()
        .unwrap();
    json_lines(&out.stdout)
}

fn ran(events: &[serde_json::Value]) -> BTreeSet<String> {
    common::events(events, "test")
        .iter()
        .filter(|e| e["to"] == "passed" || e["to"] == "failed")
        .map(|e| e["name"].as_str().unwrap().to_owned())
        .collect()
}

fn edit(root: &Path, from: &str, to: &str) {
    let lib = root.join("tiers/src/lib.rs");
    let text = std::fs::read_to_string(&lib).unwrap();
    assert!(text.contains(from));
    std::fs::write(&lib, text.replace(from, to)).unwrap();
}

#[test]
fn an_edit_inside_one_function_reruns_exactly_the_tests_that_reach_it() {
    if !require_tools() {
        return;
    }
    let root = tiers_copy("edit");
    let first = vigil().args(["run", "--format", "json"]).arg(&root).output().unwrap();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let covered = json_lines(&first.stdout).last().unwrap()["coverage"]["lines"].clone();

    edit(&root, "n * 10", "n * 5 + n * 5");
    let events = run_changed(&root, "tiers/src/lib.rs");
    let started = common::events(&events, "run_started")[0].clone();
    assert_eq!(
        ran(&events),
        ["tests::prices", "tests::totals"].map(String::from).into(),
        "{started}"
    );
    assert_eq!(started["static_tests"], 4, "{started}");
    let reasons = started["test_reasons"].as_array().unwrap();
    assert_eq!(reasons.len(), 2, "{started}");
    assert!(
        reasons
            .iter()
            .all(|r| r["reason"].as_str().unwrap().starts_with("covers `tiers/src/lib.rs` ")),
        "{started}"
    );
    assert_eq!(events.last().unwrap()["outcome"], "passed");
    // Two of the binary's four tests ran: what the other two measured
    // before still counts (the edit replaced one line with one line).
    assert_eq!(events.last().unwrap()["coverage"]["lines"], covered);

    // The maps of the tests that ran were measured again; `taxes` kept its
    // old one, which still places the next edit (its lines did not move).
    edit(&root, "n * RATE", "RATE * n");
    let events = run_changed(&root, "tiers/src/lib.rs");
    assert_eq!(ran(&events), ["tests::taxes", "tests::totals"].map(String::from).into());
}

/// A `const`'s value reaches only the code that names it: read in one
/// function body, its change runs the tests that reach that body (both
/// fail); once a `const` initializer reads it too (compile time, where no
/// map reaches), its change runs the static tier, naming both.
#[test]
fn a_const_edit_runs_the_tests_reaching_its_readers_or_the_static_tier_and_says_why() {
    if !require_tools() {
        return;
    }
    let root = tiers_copy("const");
    let first = vigil().args(["run", "--format", "json"]).arg(&root).output().unwrap();
    assert!(first.status.success());
    edit(&root, "RATE: u32 = 3", "RATE: u32 = 4");
    let events = run_changed(&root, "tiers/src/lib.rs");
    let started = common::events(&events, "run_started")[0].clone();
    assert_eq!(
        ran(&events),
        ["tests::taxes", "tests::totals"].map(String::from).into(),
        "the tests that reach `fn tax`: {started}"
    );
    let why = started.to_string();
    assert!(
        why.contains("`const RATE` (line 5) changed: evaluated at compile time; read in 1 function body"),
        "{why}"
    );
    assert!(why.contains("which reads `RATE` (its value changed)"), "{why}");
    // The edit broke both: the readers' tests are what caught it.
    assert_eq!(
        events.last().unwrap()["tests"]["failed"],
        2,
        "{}",
        events.last().unwrap()
    );
    // Read at compile time too: the static tier, and where.
    edit(
        &root,
        "RATE: u32 = 4;",
        "RATE: u32 = 3;\npub const TWICE: u32 = RATE * 2;",
    );
    let events = run_changed(&root, "tiers/src/lib.rs");
    assert_eq!(events.last().unwrap()["tests"]["failed"], 0, "{:?}", events.last());
    edit(&root, "RATE: u32 = 3;", "RATE: u32 = 4;");
    let events = run_changed(&root, "tiers/src/lib.rs");
    let started = common::events(&events, "run_started")[0].clone();
    assert_eq!(ran(&events).len(), 4, "every test of the binary: {started}");
    assert_eq!(started["static_tests"], serde_json::Value::Null);
    let why = started["reasons"].to_string();
    assert!(
        why.contains("`const RATE` (line 5) changed: evaluated at compile time; `tiers/src/lib.rs` line 6: `const TWICE` (line 6) names `RATE` outside a function body"),
        "{why}"
    );
}

#[test]
fn comments_run_no_test_and_a_line_without_a_keyword_in_a_const_is_its_value() {
    if !require_tools() {
        return;
    }
    let root = tiers_copy("syntax");
    let first = vigil().args(["run", "--format", "json"]).arg(&root).output().unwrap();
    assert!(first.status.success());
    // A comment and a const laid over two lines change no token.
    edit(&root, "    n * 10", "    // ten a piece\n    n * 10");
    edit(&root, "pub const RATE: u32 = 3;", "pub const RATE: u32 =\n    3;");
    let events = run_changed(&root, "tiers/src/lib.rs");
    let started = common::events(&events, "run_started")[0].clone();
    assert_eq!(ran(&events), BTreeSet::new(), "{started}");
    assert!(
        started["reasons"]
            .to_string()
            .contains("only comments and layout changed in `tiers/src/lib.rs`"),
        "{started}"
    );
    // The initializer's own line carries no keyword: the parser still
    // knows it is the const's, evaluated at compile time.
    edit(&root, "=\n    3;", "=\n    4;");
    let events = run_changed(&root, "tiers/src/lib.rs");
    let started = common::events(&events, "run_started")[0].clone();
    assert_eq!(
        ran(&events),
        ["tests::taxes", "tests::totals"].map(String::from).into(),
        "the tests that reach its reader: {started}"
    );
    assert!(
        started["reasons"]
            .to_string()
            .contains("`const RATE` (lines 5–6) changed: evaluated at compile time"),
        "{started}"
    );
}

/// A test that starts the crate's binary (`CARGO_BIN_EXE_cli`) is mapped
/// to the binary's code and the library code only the binary calls, so an
/// edit there reruns it, and only the tests that reach the edit.
#[test]
fn a_test_that_runs_the_crates_binary_is_mapped_to_the_binarys_code() {
    if !require_tools() {
        return;
    }
    let root = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    common::copy_dir(&fixture("cli"), &root);
    let first = vigil().args(["run", "--format", "json"]).arg(&root).output().unwrap();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let maps = maps();
    let loud = &maps["loud"];
    assert!(loud.partial.is_none(), "{loud:?}");
    let main = std::fs::read_to_string(root.join("src/main.rs")).unwrap();
    let line_of = |text: &str, needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() as u32 + 1;
    for needle in ["opts.loud(true)", "println!"] {
        assert!(
            lines(loud, "src/main.rs").contains(&line_of(&main, needle)),
            "{needle}: {loud:?}"
        );
    }
    let lib = std::fs::read_to_string(root.join("src/lib.rs")).unwrap();
    let setter = line_of(&lib, "self.loud = on");
    assert!(lines(loud, "src/lib.rs").contains(&setter), "{loud:?}");
    assert!(
        !lines(&maps["quiet"], "src/lib.rs").contains(&setter),
        "{:?}",
        maps["quiet"]
    );

    // A bug in the setter only the binary calls: `loud` runs (and fails),
    // `quiet` and the unit test do not.
    let lib_path = root.join("src/lib.rs");
    std::fs::write(&lib_path, lib.replace("self.loud = on;", "self.loud = !on;")).unwrap();
    let events = run_changed(&root, "src/lib.rs");
    assert_eq!(ran(&events), ["loud"].map(String::from).into(), "{events:?}");
    assert_eq!(events.last().unwrap()["tests"]["failed"], 1);
    // An edit in the binary's own code reruns the tests that ran it.
    std::fs::write(&lib_path, &lib).unwrap();
    std::fs::write(
        root.join("src/main.rs"),
        main.replace("\"--loud\"", "\"--shout\" | \"--loud\""),
    )
    .unwrap();
    let events = run_changed(&root, "src/main.rs");
    let started = common::events(&events, "run_started")[0].clone();
    assert!(ran(&events).contains("loud"), "{started}");
}

/// Each doctest gets its own map (its profile read against the package's
/// integration test, which links the same library build): an edit inside
/// `mul` reruns `mul`'s example and nothing else; a doc comment reruns
/// the examples of the item it documents.
#[test]
fn doctests_are_selected_by_their_own_maps() {
    if !require_tools() {
        return;
    }
    let root = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("docmap-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    common::copy_dir(&fixture("docmap"), &root);
    let first = vigil().args(["run", "--format", "json"]).arg(&root).output().unwrap();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let maps = maps();
    let lib = std::fs::read_to_string(root.join("src/lib.rs")).unwrap();
    let line_of = |needle: &str| lib.lines().position(|l| l.contains(needle)).unwrap() as u32 + 1;
    let mul = &maps["src/lib.rs - mul (line 16)"];
    assert!(mul.partial.is_none(), "{mul:?}");
    assert!(lines(mul, "src/lib.rs").contains(&line_of("a * b")), "{mul:?}");
    assert!(!lines(mul, "src/lib.rs").contains(&line_of("a + b")), "{mul:?}");

    // A generic function the example instantiates for `u8`: its map holds
    // it, read against the integration test's instance for `i32`.
    let twice = &maps["src/lib.rs - twice (line 26)"];
    assert!(twice.partial.is_none(), "{twice:?}");
    assert!(lines(twice, "src/lib.rs").contains(&line_of("x + x")), "{twice:?}");
    // Examples with their own `main`: no wrapper names them; the tracer
    // kept each example's own mapping, whose code says which doctest it is.
    let neg = &maps["src/lib.rs - neg (line 35)"];
    let square = &maps["src/lib.rs - square (line 46)"];
    assert!(neg.partial.is_none() && neg.shared.is_none(), "{neg:?}");
    assert!(lines(neg, "src/lib.rs").contains(&line_of("    -a")), "{neg:?}");
    assert!(!lines(neg, "src/lib.rs").contains(&line_of("    a * a")), "{neg:?}");
    assert!(!lines(neg, "src/lib.rs").contains(&line_of("a * b")), "{neg:?}");
    assert!(
        lines(square, "src/lib.rs").contains(&line_of("    a * a")),
        "{square:?}"
    );
    assert!(!lines(square, "src/lib.rs").contains(&line_of("    -a")), "{square:?}");

    // A bug in `mul`: its example runs and fails; the others and the
    // integration tests (which call `add` and `twice`) do not run.
    let path = root.join("src/lib.rs");
    std::fs::write(&path, lib.replace("    a * b", "    a * b + 1")).unwrap();
    let events = run_changed(&root, "src/lib.rs");
    assert_eq!(
        ran(&events),
        ["src/lib.rs - mul (line 16)"].map(String::from).into(),
        "{events:?}"
    );
    assert_eq!(events.last().unwrap()["tests"]["failed"], 1);

    // `mul` fixed and `add`'s doc comment changed: `add`'s example (its
    // docs) and `mul`'s (it failed last time), no nextest test.
    std::fs::write(&path, lib.replace("/// Adds.", "/// Adds two numbers.")).unwrap();
    let events = run_changed(&root, "src/lib.rs");
    assert_eq!(
        ran(&events),
        ["src/lib.rs - add (line 7)", "src/lib.rs - mul (line 16)"]
            .map(String::from)
            .into(),
        "{events:?}"
    );
    let started = common::events(&events, "run_started")[0].clone();
    assert_eq!(started["selected"]["tests"], 0, "{started}");

    // An edit inside `neg`: its example, and neither `square`'s, `mul`'s
    // nor `twice`'s (`add`'s docs differ from the version the integration
    // tests were measured on: it may run too).
    let now = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, now.replace("    -a", "    0 - a")).unwrap();
    let events = run_changed(&root, "src/lib.rs");
    let ran = ran(&events);
    assert!(ran.contains("src/lib.rs - neg (line 35)"), "{events:?}");
    for other in ["square (line 46)", "mul (line 16)", "twice (line 26)"] {
        assert!(!ran.contains(&format!("src/lib.rs - {other}")), "{other}: {events:?}");
    }
}

/// Without the tracer (`reads = false`), no example's own mapping is kept:
/// the examples with their own `main` cannot be told apart, so they share
/// the union of what they ran, are selected together, and say so.
#[test]
fn doctests_with_their_own_main_share_a_map_without_the_tracer() {
    if !require_tools() {
        return;
    }
    let root =
        std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("docmap-pooled-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    common::copy_dir(&fixture("docmap"), &root);
    std::fs::write(root.join("vigil.toml"), "[coverage]\nreads = false\n").unwrap();
    let first = vigil().args(["run", "--format", "json"]).arg(&root).output().unwrap();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let maps = maps();
    let path = root.join("src/lib.rs");
    let lib = std::fs::read_to_string(&path).unwrap();
    let line_of = |needle: &str| lib.lines().position(|l| l.contains(needle)).unwrap() as u32 + 1;
    let neg = &maps["src/lib.rs - neg (line 35)"];
    let square = &maps["src/lib.rs - square (line 46)"];
    assert!(
        neg.partial.is_none() && neg.shared.as_deref().is_some_and(|s| s.contains("own `main`")),
        "{neg:?}"
    );
    assert_eq!(neg, square);
    assert!(lines(neg, "src/lib.rs").contains(&line_of("    -a")), "{neg:?}");
    assert!(lines(neg, "src/lib.rs").contains(&line_of("    a * a")), "{neg:?}");
    assert!(!lines(neg, "src/lib.rs").contains(&line_of("a * b")), "{neg:?}");
    // An edit inside `neg`: both examples, the reason saying they share.
    std::fs::write(&path, lib.replace("    -a", "    0 - a")).unwrap();
    let events = run_changed(&root, "src/lib.rs");
    let ran = ran(&events);
    assert!(
        ran.contains("src/lib.rs - neg (line 35)") && ran.contains("src/lib.rs - square (line 46)"),
        "{events:?}"
    );
    assert!(!ran.contains("src/lib.rs - mul (line 16)"), "{events:?}");
    let started = common::events(&events, "run_started")[0].clone();
    let reasons = started["test_reasons"].as_array().unwrap();
    let square = reasons
        .iter()
        .find(|r| r["name"] == "src/lib.rs - square (line 46)")
        .unwrap();
    let why = square["reason"].as_str().unwrap();
    assert!(
        why.starts_with("covers `src/lib.rs`") && why.contains("shares"),
        "{started}"
    );
}

/// `vigil watch --no-tui --format json`, its events read as they come.
struct Watch {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<serde_json::Value>,
    seen: Vec<serde_json::Value>,
}

impl Watch {
    fn start(root: &Path) -> Self {
        use std::io::BufRead;
        let mut child = vigil()
            .args(["watch", "--no-tui", "--format", "json"])
            .arg(root)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str(&line) {
                    if tx.send(v).is_err() {
                        return;
                    }
                }
            }
        });
        Watch {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    fn wait_for(&mut self, what: &str, f: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        if let Some(v) = self.seen.iter().find(|v| f(v)) {
            return v.clone();
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            let Ok(v) = self.lines.recv_timeout(left) else { break };
            self.seen.push(v.clone());
            if f(&v) {
                return v;
            }
        }
        panic!("no {what} in {:#?}", self.seen);
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        // SAFETY: signalling our own child.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGINT);
        }
        let _ = self.child.wait();
    }
}

/// The planted miss: `limits` depends on a data file read at run time,
/// which no coverage map and no compilation sees, and read tracing is off
/// (`coverage.reads = false`; with it on, the data file selects `limits`
/// at once). An edit to `price()` clears `limits` and `taxes`; the data
/// file changes in the same save. The idle sweep runs what was cleared and
/// reports `limits` as a miss.
#[test]
fn the_idle_sweep_finds_a_planted_selection_miss() {
    if !require_tools() {
        return;
    }
    let root = tiers_copy("sweep");
    std::fs::write(
        root.join("vigil.toml"),
        "[watch]\nsweep_after = \"1s\"\n\n[coverage]\nreads = false\n",
    )
    .unwrap();
    let mut w = Watch::start(&root);
    w.wait_for("the first run's end", |v| v["event"] == "run_finished" && v["run"] == 1);

    // The data file lies outside every package: nothing selects it.
    std::fs::write(root.join("data/limit.txt"), "50\n").unwrap();
    w.wait_for("the data file ignored", |v| v["event"] == "change_ignored");
    edit(&root, "n * 10", "n * 5 + n * 5");
    let started = w.wait_for("a narrowed run", |v| {
        v["event"] == "run_started" && v["trigger"] == "watch" && !v["static_tests"].is_null()
    });
    let narrowed = started["run"].clone();
    assert_eq!(started["static_tests"], 4, "{started}");
    let finished = w.wait_for("its end", |v| v["event"] == "run_finished" && v["run"] == narrowed);
    assert_eq!(finished["tests"]["passed"], 2, "{finished}");
    assert_eq!(finished["gate"]["passed"], true, "selection kept it green: {finished}");

    let sweep = w.wait_for("the sweep", |v| v["event"] == "sweep_started");
    assert_eq!(sweep["tests"], 2, "{sweep}");
    let done = w.wait_for("the sweep's end", |v| v["event"] == "sweep_finished");
    assert_eq!(done["tests"], 2, "{done}");
    let misses = done["misses"].as_array().unwrap();
    assert_eq!(misses.len(), 1, "{done}");
    assert_eq!(misses[0]["name"], "tests::limits");
    assert_eq!(misses[0]["changed"], serde_json::json!(["tiers/src/lib.rs"]));
    let run = w.wait_for("the sweep run's end", |v| {
        v["event"] == "run_finished" && v["run"] == done["run"]
    });
    assert_eq!(run["tests"]["failed"], 1, "{run}");
}

/// Patch coverage over a scripted history: of the lines changed since the
/// commit, the executable ones, how many a test reaches, and the rest by
/// file and line; `coverage.patch` gates on it.
#[test]
fn patch_coverage_counts_the_changed_lines_a_test_reaches() {
    if !require_tools() {
        return;
    }
    let root = tiers_copy("patch");
    std::fs::write(root.join(".gitignore"), "target/\n").unwrap();
    std::fs::write(root.join("vigil.toml"), "[coverage]\npatch = 80\n").unwrap();
    common::git(&root, &["init", "-q"]);
    common::git(&root, &["add", "."]);
    common::git(&root, &["commit", "-q", "-m", "base"]);
    // A changed line that `prices` runs, and a new function nothing calls.
    edit(&root, "n * 10", "n * 5 + n * 5");
    edit(
        &root,
        "pub fn limit() -> u32 {",
        "pub fn discount(n: u32) -> u32 {\n    n / 2\n}\n\npub fn limit() -> u32 {",
    );
    let out = vigil()
        .arg("run")
        .arg(&root)
        .args(["--format", "json", "--since", "HEAD"])
        .output()
        .unwrap();
    let events = json_lines(&out.stdout);
    let last = events.last().unwrap();
    let patch = &last["coverage"]["patch"];
    assert_eq!(patch["base"], "HEAD", "{last}");
    let source = std::fs::read_to_string(root.join("tiers/src/lib.rs")).unwrap();
    let discount = body(&source, "discount");
    let changed_price = source.lines().position(|l| l.contains("n * 5 + n * 5")).unwrap() as u32 + 1;
    assert_eq!(patch["lines"]["count"], 1 + discount.len(), "{patch}");
    assert_eq!(patch["lines"]["covered"], 1, "{patch}");
    assert_eq!(
        patch["uncovered"],
        serde_json::json!([{"path": "tiers/src/lib.rs", "lines": [[discount.first().unwrap(), discount.last().unwrap()]]}]),
        "the new function, not line {changed_price}: {patch}"
    );
    // 1 of 4 changed executable lines: under the 80 % the config asks.
    assert_eq!(out.status.code(), Some(1), "{last}");
    let reasons = last["gate"]["reasons"].to_string();
    assert!(reasons.contains("patch lines"), "{reasons}");
}

/// Watching without `coverage.base`: patch coverage is measured against the
/// tree as the session started.
#[test]
fn watch_mode_measures_patch_coverage_against_the_sessions_start() {
    if !require_tools() {
        return;
    }
    let root = tiers_copy("session");
    std::fs::write(root.join("vigil.toml"), "[watch]\nsweep_after = \"off\"\n").unwrap();
    let mut w = Watch::start(&root);
    let first = w.wait_for("the first run's end", |v| v["event"] == "run_finished" && v["run"] == 1);
    assert!(first["coverage"]["patch"].is_null() || first["coverage"]["patch"]["lines"]["count"] == 0);
    edit(&root, "n * 10", "n * 5 + n * 5");
    edit(
        &root,
        "pub fn limit() -> u32 {",
        "pub fn discount(n: u32) -> u32 {\n    n / 2\n}\n\npub fn limit() -> u32 {",
    );
    let done = w.wait_for("a run with the edits", |v| {
        v["event"] == "run_finished" && v["run"].as_u64() > Some(1) && v["coverage"]["patch"]["lines"]["count"] == 4
    });
    let patch = &done["coverage"]["patch"];
    assert_eq!(patch["base"], "the session's start", "{patch}");
    assert_eq!(patch["lines"]["covered"], 1, "{patch}");
    assert_eq!(patch["uncovered"][0]["path"], "tiers/src/lib.rs", "{patch}");
}

/// A Rust file no coverage map mentions (a module of docs and a type: no
/// code a test runs) is judged against its text as the watch session
/// began: a comment there runs no test, new code the static tier.
#[test]
fn a_file_no_map_mentions_is_judged_against_the_sessions_start() {
    if !require_tools() {
        return;
    }
    let root = tiers_copy("baseline");
    std::fs::write(root.join("vigil.toml"), "[watch]\nsweep_after = \"off\"\n").unwrap();
    let outline = root.join("tiers/src/outline.rs");
    std::fs::write(&outline, "//! What the crate holds.\n\n/// A unit.\npub struct Unit;\n").unwrap();
    edit(
        &root,
        "pub const RATE: u32 = 3;",
        "pub mod outline;\n\npub const RATE: u32 = 3;",
    );
    let mut w = Watch::start(&root);
    w.wait_for("the first run's end", |v| v["event"] == "run_finished" && v["run"] == 1);
    let run_after = |w: &mut Watch, after: u64| {
        let started = w.wait_for("a run for the edit", |v| {
            v["event"] == "run_started" && v["run"].as_u64() > Some(after)
        });
        let run = started["run"].clone();
        w.wait_for("its end", |v| v["event"] == "run_finished" && v["run"] == run);
        let of_run: Vec<serde_json::Value> = w.seen.iter().filter(|v| v["run"] == run).cloned().collect();
        (started, ran(&of_run))
    };
    let text = std::fs::read_to_string(&outline).unwrap();
    std::fs::write(&outline, text.replace("/// A unit.", "// A note.\n/// A unit.")).unwrap();
    let (started, ran) = run_after(&mut w, 1);
    assert_eq!(ran, BTreeSet::new(), "{started}");
    assert!(
        started["reasons"]
            .to_string()
            .contains("only comments and layout changed in `tiers/src/outline.rs`"),
        "{started}"
    );
    let text = std::fs::read_to_string(&outline).unwrap();
    std::fs::write(&outline, format!("{text}\npub struct Other;\n")).unwrap();
    let (again, ran) = run_after(&mut w, started["run"].as_u64().unwrap());
    assert!(
        again["reasons"].to_string().contains("no coverage map mentions"),
        "{again}"
    );
    assert!(
        ["tests::prices", "tests::taxes", "tests::totals"]
            .iter()
            .all(|t| ran.contains(*t)),
        "the static tier: {ran:?}"
    );
}

/// A change set is placed file by file. With read tracing off, a file the
/// maps cannot answer for (`orders/NOTES.md`, not Rust) runs its own static
/// tier — `orders`' binaries, whole — and costs nothing more;
/// `money/src/lib.rs`, which the maps can answer for (as measured: nothing
/// to rerun), clears `money`'s tests. Before, the one non-Rust file sent
/// the whole change set to the static tier, `money` included. With the
/// default (reads traced), `orders/NOTES.md` is a file no build and no
/// test read: it selects nothing, and says so.
#[test]
fn each_file_of_a_change_set_is_placed_on_its_own() {
    let dir = fixture("shop");
    if !common::require_llvm(&dir) {
        return;
    }
    let config = common::state_dir().with_extension("untraced.toml");
    let shop = std::fs::read_to_string(dir.join("vigil.toml")).unwrap();
    std::fs::write(&config, format!("{shop}\n[coverage]\nreads = false\n")).unwrap();
    let first = vigil()
        .args(["run", "--format", "json", "--config"])
        .arg(&config)
        .arg(&dir)
        .output()
        .unwrap();
    let first = json_lines(&first.stdout);
    let orders_ran: BTreeSet<String> = common::events(&first, "test")
        .iter()
        .filter(|e| e["binary_id"].as_str().unwrap().starts_with("orders") && e["to"] != "running")
        .filter(|e| e["to"] == "passed" || e["to"] == "failed" || e["to"] == "xfail")
        .map(|e| e["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(orders_ran.len() >= 3, "{orders_ran:?}");
    let changed = |config: Option<&Path>| {
        let mut cmd = vigil();
        cmd.arg("run");
        if let Some(c) = config {
            cmd.arg("--config").arg(c);
        }
        let out = cmd
            .arg(&dir)
            .args(["--format", "json", "--changed"])
            .arg(dir.join("money/src/lib.rs"))
            .arg(dir.join("orders/NOTES.md"))
            .output()
            .unwrap();
        json_lines(&out.stdout)
    };
    let events = changed(Some(&config));
    let started = common::events(&events, "run_started")[0].clone();
    let finished: Vec<(String, String)> = common::events(&events, "test")
        .iter()
        .filter(|e| e["to"] == "passed" || e["to"] == "failed" || e["to"] == "xfail")
        .map(|e| {
            (
                e["binary_id"].as_str().unwrap().to_owned(),
                e["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let money: Vec<_> = finished.iter().filter(|(b, _)| b == "money").collect();
    assert!(money.is_empty(), "money's maps clear its tests: {money:?}\n{started}");
    let orders: BTreeSet<String> = finished
        .iter()
        .filter(|(b, _)| b.starts_with("orders"))
        .map(|(_, n)| n.clone())
        .collect();
    assert_eq!(orders, orders_ran, "orders' binaries run whole: {started}");
    let why = started["reasons"].to_string();
    assert!(
        why.contains("placed on its own, its binaries run whole: `orders/NOTES.md` is not Rust source"),
        "{why}"
    );
    let reasons = started["test_reasons"].as_array().unwrap();
    assert!(
        reasons
            .iter()
            .filter(|r| r["binary_id"].as_str().unwrap().starts_with("orders"))
            .all(|r| r["reason"]
                .as_str()
                .unwrap()
                .contains("`orders/NOTES.md` is not Rust source")
                || r["reason"].as_str().unwrap().contains("last time")),
        "{started}"
    );

    // Traced (the default; a run first, to record what each test reads).
    let traced = vigil().args(["run", "--format", "json"]).arg(&dir).output().unwrap();
    assert!(!json_lines(&traced.stdout).is_empty());
    let events = changed(None);
    let ignored = common::events(&events, "change_ignored");
    assert_eq!(ignored.len(), 1, "{events:?}");
    assert_eq!(ignored[0]["changed"], serde_json::json!(["orders/NOTES.md"]));
    assert_eq!(ignored[0]["why"], "no build or test reads it");
    // What runs is what failed last time (the fixture's one failing test,
    // red until it is fixed), and nothing for either file.
    let started = common::events(&events, "run_started")[0].clone();
    let again: BTreeSet<String> = started["test_reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["reason"] == "failed last time")
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(again, BTreeSet::from(["refund_partial".to_owned()]), "{started}");
    let ran_now: BTreeSet<String> = common::events(&events, "test")
        .iter()
        .filter(|e| e["to"] == "passed" || e["to"] == "failed" || e["to"] == "xfail")
        .map(|e| e["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        ran_now, again,
        "the maps clear money's tests, and NOTES.md runs none: {started}"
    );
}

/// Real commits mostly add things: a new function and a new test that
/// calls it run the new test alone (it never ran), and `#[inline]` added
/// to an existing function reruns the tests that reach that function.
#[test]
fn new_functions_run_only_the_tests_that_name_them_and_inert_attributes_narrow() {
    if !require_tools() {
        return;
    }
    let root = tiers_copy("added");
    let first = vigil().args(["run", "--format", "json"]).arg(&root).output().unwrap();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    edit(
        &root,
        "pub fn limit()",
        "/// Half a price.\npub fn half(n: u32) -> u32 {\n    price(n) / 2\n}\n\npub fn limit()",
    );
    edit(
        &root,
        "    #[test]\n    fn limits()",
        "    #[test]\n    fn halves() {\n        assert_eq!(half(2), 10);\n    }\n\n    #[test]\n    fn limits()",
    );
    let events = run_changed(&root, "tiers/src/lib.rs");
    let started = common::events(&events, "run_started")[0].clone();
    assert_eq!(ran(&events), ["tests::halves"].map(String::from).into(), "{started}");
    assert_eq!(events.last().unwrap()["outcome"], "passed");

    edit(&root, "pub fn tax(", "#[inline]\npub fn tax(");
    let events = run_changed(&root, "tiers/src/lib.rs");
    let started = common::events(&events, "run_started")[0].clone();
    assert_eq!(
        ran(&events),
        ["tests::taxes", "tests::totals"].map(String::from).into(),
        "{started}"
    );
}

/// A new inherent method is chosen over a trait's method of the same name
/// wherever that is called: adding `Amount::doubled` changes what
/// `ext.rs`'s test calls, though `lib.rs` never named `doubled`. That test
/// runs (and fails), and no other.
#[test]
fn a_new_method_reruns_the_tests_whose_calls_may_now_resolve_to_it() {
    if !require_tools() {
        return;
    }
    let root = tiers_copy("shadow");
    let src = root.join("tiers/src");
    edit(
        &root,
        "pub fn limit()",
        "pub mod ext;\n\npub struct Amount(pub u32);\n\nimpl Amount {\n    pub fn raw(&self) -> u32 {\n        self.0\n    }\n}\n\npub fn limit()",
    );
    std::fs::write(
        src.join("ext.rs"),
        "pub trait Doubled {\n    fn doubled(&self) -> u32;\n}\n\nimpl Doubled for crate::Amount {\n    fn doubled(&self) -> u32 {\n        self.raw() * 2\n    }\n}\n\n\
         #[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn doubles() {\n        assert_eq!(crate::Amount(2).doubled(), 4);\n    }\n}\n",
    )
    .unwrap();
    let first = vigil().args(["run", "--format", "json"]).arg(&root).output().unwrap();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    edit(
        &root,
        "impl Amount {\n",
        "impl Amount {\n    pub fn doubled(&self) -> u32 {\n        self.0 * 3\n    }\n\n",
    );
    let events = run_changed(&root, "tiers/src/lib.rs");
    let started = common::events(&events, "run_started")[0].clone();
    assert_eq!(
        ran(&events),
        ["ext::tests::doubles"].map(String::from).into(),
        "{started}"
    );
    assert_eq!(events.last().unwrap()["outcome"], "failed");
    let why = started.to_string();
    assert!(
        why.contains("which names `doubled`, a function the change adds"),
        "{started}"
    );
}

/// What a test reads at run time selects it: the `reads` fixture's tests
/// open `data/x.json`, list `cases/`, and start the crate's binary, which
/// reads `data/config.txt`. Each file reruns exactly its reader; a new case
/// file reruns the test that lists `cases/`; `data/doc.txt`, which only a
/// doctest's example reads, reruns that doctest; `CHANGELOG.md`, `ci/` (which
/// the manifest excludes) and `data/unused.txt` no build or test reads, so
/// they run nothing and say so, though cargo reruns the package's build
/// script on each (it prints no `rerun-if` line): only the files the script
/// and what it starts read reach the build; beside a Rust edit,
/// `CHANGELOG.md` costs nothing.
#[test]
fn files_tests_read_at_run_time_select_exactly_their_readers() {
    let source = fixture("reads");
    if !common::require_llvm(&source) {
        return;
    }
    let root = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("reads-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    common::copy_dir(&source, &root);
    let first = vigil().args(["run", "--format", "json"]).arg(&root).output().unwrap();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let maps = maps();
    let reads = |name: &str| maps[name].reads.clone().unwrap_or_else(|| panic!("{name} traced"));
    let json = reads("tests::json_value");
    assert_eq!(
        json.files["data/x.json"],
        vigil::core::testmap::content_hash(&std::fs::read(root.join("data/x.json")).unwrap())
    );
    assert!(reads("tests::cases_are_not_empty").dirs.contains("cases"));
    // Read by the crate's binary, which the test started.
    assert!(
        reads("greets").files.contains_key("data/config.txt"),
        "{:?}",
        reads("greets")
    );
    assert!(reads("tests::adds").files.is_empty(), "{:?}", reads("tests::adds"));
    // A doctest's example is traced too (the doc lane preloads the tracer
    // into rustdoc's examples alone).
    let doctest = maps
        .keys()
        .find(|n| n.starts_with("src/lib.rs - documented"))
        .unwrap_or_else(|| panic!("the doctest has a map: {:?}", maps.keys()))
        .clone();
    assert!(
        reads(&doctest).files.contains_key("data/doc.txt"),
        "{:?}",
        reads(&doctest)
    );
    assert!(
        !reads(&doctest)
            .files
            .keys()
            .any(|f| f.starts_with("src/") || f.starts_with("target")),
        "rustdoc's own reads are not the example's: {:?}",
        reads(&doctest)
    );

    let changed = |files: &[&str]| {
        let mut cmd = vigil();
        cmd.arg("run").arg(&root).args(["--format", "json", "--changed"]);
        for f in files {
            cmd.arg(root.join(f));
        }
        json_lines(&cmd.output().unwrap().stdout)
    };
    std::fs::write(root.join("data/x.json"), "{\"value\": 8}\n").unwrap();
    let events = changed(&["data/x.json"]);
    assert_eq!(
        ran(&events),
        BTreeSet::from(["tests::json_value".to_owned()]),
        "{events:?}"
    );
    let started = common::events(&events, "run_started")[0];
    assert!(
        started["reasons"][0]
            .as_str()
            .unwrap()
            .contains("read at run time by `tests::json_value`"),
        "{started}"
    );
    assert_eq!(
        common::events(&events, "run_finished")[0]["tests"]["failed"],
        1,
        "red at once"
    );
    std::fs::write(root.join("data/x.json"), "{\"value\": 7}\n").unwrap();
    let events = changed(&["data/x.json"]);
    assert_eq!(
        common::events(&events, "run_finished")[0]["tests"]["passed"],
        1,
        "green again"
    );

    // The file only the doctest reads reruns exactly that doctest.
    std::fs::write(root.join("data/doc.txt"), "changed\n").unwrap();
    let events = changed(&["data/doc.txt"]);
    assert_eq!(ran(&events), BTreeSet::from([doctest.clone()]), "{events:?}");
    assert_eq!(
        common::events(&events, "run_finished")[0]["tests"]["failed"],
        1,
        "red at once: {events:?}"
    );
    std::fs::write(root.join("data/doc.txt"), "example\n").unwrap();
    let events = changed(&["data/doc.txt"]);
    assert_eq!(ran(&events), BTreeSet::from([doctest.clone()]), "{events:?}");

    std::fs::write(root.join("cases/c.txt"), "three\n").unwrap();
    let events = changed(&["cases/c.txt"]);
    assert_eq!(ran(&events), BTreeSet::from(["tests::cases_are_not_empty".to_owned()]));

    let config = std::fs::read_to_string(root.join("data/config.txt")).unwrap();
    std::fs::write(root.join("data/config.txt"), "greeting=hi\n").unwrap();
    let events = changed(&["data/config.txt"]);
    assert_eq!(ran(&events), BTreeSet::from(["greets".to_owned()]));
    // Red now, it is "failed last time" for every later vigil until it
    // passes: the old greeting back makes it green.
    std::fs::write(root.join("data/config.txt"), config).unwrap();
    let events = changed(&["data/config.txt"]);
    assert_eq!(ran(&events), BTreeSet::from(["greets".to_owned()]));
    assert_eq!(events.last().unwrap()["tests"]["failed"], 0, "{events:?}");

    for unread in ["CHANGELOG.md", "ci/check.sh", "data/unused.txt"] {
        std::fs::write(root.join(unread), "changed\n").unwrap();
        let events = changed(&[unread]);
        let ignored = common::events(&events, "change_ignored");
        assert_eq!(ignored.len(), 1, "{unread}: {events:?}");
        assert_eq!(ignored[0]["why"], "no build or test reads it");
        assert!(ran(&events).is_empty(), "{unread}: {events:?}");
    }

    // Cargo reruns the build script on every file of the package (it
    // prints no `rerun-if` line), yet only what it read, traced, reaches
    // what it prints: `data/build.txt`, and `data/child.txt`, which `cat`
    // read for it. Either runs the package's tests, red at once.
    for file in ["data/build.txt", "data/child.txt"] {
        let was = std::fs::read_to_string(root.join(file)).unwrap();
        std::fs::write(root.join(file), "changed\n").unwrap();
        let events = changed(&[file]);
        let started = common::events(&events, "run_started")[0];
        assert!(
            started
                .to_string()
                .contains("`reads`'s build script read it when it last ran"),
            "{file}: {started}"
        );
        let ran = ran(&events);
        for test in ["tests::build_notes", "tests::adds", "greets"] {
            assert!(ran.contains(test), "{file}: {test} runs: {ran:?}");
        }
        let failed = |events: &[serde_json::Value]| -> BTreeSet<String> {
            common::events(events, "run_finished")[0]["failures"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["name"].as_str().unwrap().to_owned())
                .collect()
        };
        assert!(
            failed(&events).contains("tests::build_notes"),
            "{file}: red at once: {events:?}"
        );
        std::fs::write(root.join(file), was).unwrap();
        let events = changed(&[file]);
        assert!(!failed(&events).contains("tests::build_notes"), "{file}: green again");
    }

    // Tests written through a macro (`case!`, as ripgrep's `rgtest!`): an
    // edit inside one call reruns that test alone; a new call runs only the
    // new test.
    let cases = root.join("tests/cases.rs");
    let text = std::fs::read_to_string(&cases).unwrap();
    let edited = text.replace("reads::add(1, 1)", "reads::add(2, 1)");
    std::fs::write(&cases, &edited).unwrap();
    let events = changed(&["tests/cases.rs"]);
    assert_eq!(ran(&events), BTreeSet::from(["two".to_owned()]), "{events:?}");
    std::fs::write(&cases, format!("{edited}\ncase!(three, || reads::add(3, 0));\n")).unwrap();
    let events = changed(&["tests/cases.rs"]);
    assert_eq!(ran(&events), BTreeSet::from(["three".to_owned()]), "{events:?}");

    // Embedded as the crate compiles (`include_str!`): in a function body,
    // and in a static one body reads. Each runs exactly the test that
    // reaches its reader, red at once, then green again.
    for (file, test) in [
        ("data/banner.txt", "tests::banners"),
        ("data/motto.txt", "tests::mottos"),
    ] {
        let was = std::fs::read_to_string(root.join(file)).unwrap();
        std::fs::write(root.join(file), "changed\n").unwrap();
        let events = changed(&[file]);
        let started = common::events(&events, "run_started")[0];
        assert_eq!(ran(&events), BTreeSet::from([test.to_owned()]), "{file}: {started}");
        assert!(
            started
                .to_string()
                .contains(&format!("`{file}` is embedded where 1 function body reads it")),
            "{file}: {started}"
        );
        assert!(
            started
                .to_string()
                .contains(&format!("which embeds `{file}` (changed)")),
            "{file}: {started}"
        );
        let failures = common::events(&events, "run_finished")[0]["failures"].to_string();
        assert!(failures.contains(test), "{file}: red at once: {failures}");
        std::fs::write(root.join(file), was).unwrap();
        let events = changed(&[file]);
        assert_eq!(ran(&events), BTreeSet::from([test.to_owned()]), "{file}");
        assert_eq!(
            common::events(&events, "run_finished")[0]["tests"]["failed"],
            0,
            "{file}: green again"
        );
    }

    let lib = root.join("src/lib.rs");
    let text = std::fs::read_to_string(&lib).unwrap();
    std::fs::write(&lib, text.replace("a + b", "b + a")).unwrap();
    let events = changed(&["src/lib.rs", "CHANGELOG.md"]);
    // `add`'s tests: its own, and the macro's three, which call it.
    assert_eq!(
        ran(&events),
        ["tests::adds", "one", "two", "three"].map(String::from).into(),
        "{events:?}"
    );
    std::fs::remove_dir_all(&root).unwrap();
}
