//! Test-level selection: the static tier's plan (binaries from cargo's
//! graph) narrowed to the tests whose coverage maps reach the changed
//! lines. The static tier stays wherever a map cannot answer: a new or
//! unmeasured test, a stale map without its text, a file no map mentions,
//! a non-Rust input, a build script, a compile-time item. Pure: texts are
//! data the adapter read.

use std::collections::{BTreeMap, HashMap};

use super::catalog::Catalog;
use super::select::Targeted;
use super::syntax::{attribute, Attribution, DocEdit};
use super::test_state::TestState;
use super::testmap::{content_hash, TestId, TestKey, TestMaps};

/// The texts a change set is placed with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Texts {
    /// Changed path (workspace-relative) → its text now (`None`: gone or
    /// unreadable).
    pub current: BTreeMap<String, Option<String>>,
    /// Content hash → the text a map was measured on (kept by vigil).
    pub versions: HashMap<String, String>,
    /// (path, a version's content hash) → the change from that version to
    /// the text now, placed ahead by the adapter (off the loop, each file
    /// on a core); a pair not here is placed when it is needed.
    pub attributions: HashMap<(String, String), Attribution>,
    /// A `const` or `static` whose value changed (by name) → the function
    /// bodies of the workspace's sources that read it, or where it is
    /// named outside one (the adapter looks; a name not here was not
    /// looked for, and its change runs the static tier).
    pub value_sites: HashMap<String, Result<Vec<ValueSite>, String>>,
    /// A changed file that is not Rust source, which a compilation reads
    /// (workspace-relative) → the function bodies that embed it
    /// (`include_str!`/`include_bytes!` there, or in a `const` they read),
    /// or why they cannot answer.
    pub include_sites: HashMap<String, Result<Embedded, String>>,
    /// Macros called at item level by the change set → whether every
    /// `macro_rules!` of that name in the workspace defines exactly one
    /// test named by the call's first argument (not found: false).
    pub test_macros: HashMap<String, bool>,
    /// A changed Rust file no map mentions → the content hash of its text
    /// as the session began (in `versions`): a change of comments, layout
    /// or doc comments alone since then is placed as such.
    pub baselines: HashMap<String, String>,
}

/// Where a file that is not Rust source is embedded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Embedded {
    /// The function bodies that read it.
    pub sites: Vec<ValueSite>,
    /// The Rust files whose `include_str!`/`include_bytes!` name it
    /// (workspace-relative): every compilation that reads it must be one
    /// of theirs.
    pub by: Vec<String>,
}

/// A function body that names a `const` or `static`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueSite {
    /// Workspace-relative.
    pub path: String,
    /// The content hash of the text the lines are of.
    pub hash: String,
    /// The body's lines.
    pub lines: [u32; 2],
}

/// What test-level selection made of a static plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Narrowed {
    /// The static tier stands, and why.
    Static(String),
    Tests {
        /// The static filterset without the tests the maps clear.
        filterset: String,
        /// Each selected test of the static tier → why it runs.
        reasons: BTreeMap<TestKey, String>,
        /// How many tests the static tier would have run.
        static_tests: usize,
        /// The tests the maps cleared (nextest's; doctests are in
        /// `doc_cleared`, for the doc lane).
        skipped: Vec<TestKey>,
        /// The doctests whose maps clear them.
        doc_cleared: Vec<TestKey>,
        /// What the change set was found to be, file by file, where that
        /// selects nothing ("only comments and layout changed in …").
        notes: Vec<String>,
        /// Doc comments changed: (path, the item they document).
        docs: Vec<(String, DocEdit)>,
        /// Whether function code may have changed: false only when every
        /// file is known to have changed in comments, layout or doc
        /// comments alone.
        code_changed: bool,
    },
}

/// A changed file the maps can answer for: its content hash now, and the
/// changed lines of each kept version a map was measured on (old lines of
/// function bodies; empty: no code changed).
struct Placed {
    hash: String,
    edits: HashMap<String, Vec<[u32; 2]>>,
    /// Only comments and layout changed, from every kept version.
    layout: bool,
    docs: Vec<DocEdit>,
    /// The bodies that read a `const` or `static` whose value changed here,
    /// with its name, and the kept versions whose change to the text now
    /// changed it (empty: whatever version a map was measured on).
    sites: Vec<(String, ValueSite, Vec<String>)>,
    /// What those values are ("`const RATE` (line 5) changed: …; read in 1
    /// function body").
    values: Vec<String>,
}

impl Placed {
    fn code_changed(&self) -> bool {
        self.edits.is_empty() || self.edits.values().any(|e| !e.is_empty()) || !self.sites.is_empty()
    }
}

/// Where a changed file stands before any test is looked at: `Err` when
/// the static tier must answer for the whole change set.
/// Only the maps of tests the catalog still lists count (a doctest's name
/// carries its line: after an edit above it, the old name is gone, and so
/// is what its map was measured on).
fn check_file(path: &str, maps: &TestMaps, texts: &Texts, catalog: &Catalog) -> Result<Placed, String> {
    if !path.ends_with(".rs") {
        return match texts.include_sites.get(path) {
            Some(Ok(Embedded { sites: found, .. })) => {
                let n = found.len();
                Ok(Placed {
                    hash: String::new(),
                    edits: HashMap::new(),
                    layout: false,
                    docs: Vec::new(),
                    sites: found
                        .iter()
                        .map(|s| (format!("`{path}`"), s.clone(), Vec::new()))
                        .collect(),
                    values: vec![format!(
                        "`{path}` is embedded where {n} function bod{} read{} it (the tests that reach {} run)",
                        if n == 1 { "y" } else { "ies" },
                        if n == 1 { "s" } else { "" },
                        if n == 1 { "it" } else { "them" },
                    )],
                })
            }
            Some(Err(e)) => Err(format!("`{path}` is not Rust source, and {e}")),
            None => Err(format!("`{path}` is not Rust source")),
        };
    }
    if path.rsplit('/').next() == Some("build.rs") {
        return Err(format!("`{path}` is a build script"));
    }
    let Some(Some(now)) = texts.current.get(path) else {
        return Err(format!("`{path}` could not be read"));
    };
    if !maps.mentions(path) {
        // No test ran code of it: a change of comments, layout or doc
        // comments since the session began changes nothing a map shows
        // (docs: the doctests of the items they document); anything else
        // runs the static tier.
        let unmentioned = || Err(format!("no coverage map mentions `{path}`"));
        let Some((h, old)) = texts
            .baselines
            .get(path)
            .and_then(|h| Some((h, texts.versions.get(h)?)))
        else {
            return unmentioned();
        };
        let placed = texts.attributions.get(&(path.to_owned(), h.clone())).cloned();
        return match placed.unwrap_or_else(|| attribute(old, now)) {
            Attribution::Layout => Ok(Placed {
                hash: content_hash(now.as_bytes()),
                edits: [(String::new(), Vec::new())].into(),
                layout: true,
                docs: Vec::new(),
                sites: Vec::new(),
                values: Vec::new(),
            }),
            Attribution::Code {
                bodies,
                docs,
                values,
                calls,
            } if bodies.is_empty() && values.iter().all(|v| v.added) && calls.is_empty() => {
                let (mut sites, mut notes) = (Vec::new(), Vec::new());
                place_values(path, &values, None, texts, &mut sites, &mut notes)?;
                Ok(Placed {
                    hash: content_hash(now.as_bytes()),
                    edits: [(String::new(), Vec::new())].into(),
                    layout: false,
                    docs,
                    sites,
                    values: notes,
                })
            }
            _ => unmentioned(),
        };
    }
    // Each version once: many tests share one. A map measured on the text
    // as it is now has nothing to place.
    let hash = content_hash(now.as_bytes());
    let mut edits = HashMap::new();
    let mut layout = true;
    let mut docs: Vec<DocEdit> = Vec::new();
    let mut sites: Vec<(String, ValueSite, Vec<String>)> = Vec::new();
    let mut value_notes: Vec<String> = Vec::new();
    for (key, m) in &maps.tests {
        let Some(f) = m.files.get(path) else { continue };
        let Some(old) = texts.versions.get(&f.hash) else {
            continue;
        };
        if !live(catalog, key) {
            continue;
        }
        if f.hash == hash || edits.contains_key(&f.hash) {
            continue;
        }
        let placed = texts.attributions.get(&(path.to_owned(), f.hash.clone()));
        let lines = match placed.cloned().unwrap_or_else(|| attribute(old, now)) {
            Attribution::Layout => Vec::new(),
            Attribution::Code {
                bodies,
                docs: d,
                values,
                calls,
            } => {
                layout = false;
                for doc in d {
                    if !docs.contains(&doc) {
                        docs.push(doc);
                    }
                }
                place_values(path, &values, Some(&f.hash), texts, &mut sites, &mut value_notes)?;
                let mut lines: Vec<[u32; 2]> = bodies.into_iter().map(|b| b.old_lines).collect();
                for c in calls {
                    // A test macro's call: the test it defines (a new one
                    // runs, as never run); any other macro: the static tier.
                    if texts.test_macros.get(&c.macro_name) != Some(&true) {
                        return Err(format!("`{path}`: {}", c.why));
                    }
                    lines.extend(c.old_lines);
                }
                lines
            }
            Attribution::Static(why) => return Err(format!("`{path}`: {why}")),
        };
        edits.insert(f.hash.clone(), lines);
    }
    Ok(Placed {
        hash,
        layout: layout && !edits.is_empty(),
        edits,
        docs,
        sites,
        values: value_notes,
    })
}

/// The bodies that name each changed value (or function the change
/// adds), found by the adapter, into `sites` (a new function's under
/// `fn <name>`) as changed from `version` (`None`: from whatever version),
/// with a note for each; `Err` where they cannot answer.
fn place_values(
    path: &str,
    values: &[crate::core::syntax::ValueEdit],
    version: Option<&str>,
    texts: &Texts,
    sites: &mut Vec<(String, ValueSite, Vec<String>)>,
    notes: &mut Vec<String>,
) -> Result<(), String> {
    for v in values {
        match texts.value_sites.get(&v.name) {
            Some(Ok(found)) if v.added && found.is_empty() => {}
            Some(Ok(found)) => {
                let n = found.len();
                let note = format!(
                    "`{path}`: {}; {} in {n} function bod{} (the tests that reach {} run)",
                    v.why,
                    if v.added { "named" } else { "read" },
                    if n == 1 { "y" } else { "ies" },
                    if n == 1 { "it" } else { "them" },
                );
                if !notes.contains(&note) {
                    notes.push(note);
                }
                let key = if v.added {
                    format!("fn {}", v.name)
                } else {
                    v.name.clone()
                };
                for site in found {
                    match sites.iter_mut().find(|(k, s, _)| *k == key && s == site) {
                        Some((_, _, versions)) => {
                            if let Some(v) = version {
                                if !versions.is_empty() && !versions.iter().any(|x| x == v) {
                                    versions.push(v.to_owned());
                                }
                            } else {
                                versions.clear();
                            }
                        }
                        None => sites.push((
                            key.clone(),
                            site.clone(),
                            version.map(|v| vec![v.to_owned()]).unwrap_or_default(),
                        )),
                    }
                }
            }
            Some(Err(e)) => return Err(format!("`{path}`: {}; {e}", v.why)),
            None => return Err(format!("`{path}`: {}", v.why)),
        }
    }
    Ok(())
}

/// Why the maps cannot answer for `path` (the static tier must), if so.
pub(crate) fn unplaced(path: &str, maps: &TestMaps, texts: &Texts, catalog: &Catalog) -> Option<String> {
    check_file(path, maps, texts, catalog).err()
}

/// Whether the test still exists, as far as the catalog knows its binary.
fn live(catalog: &Catalog, key: &TestKey) -> bool {
    match catalog.suite_index(&key.0) {
        Some(i) => catalog.suites[i].test_index(&key.1).is_some(),
        None => true,
    }
}

/// Narrows the static plan `t` to the tests the maps say `changed` can
/// reach. `whole` names the binaries that run every test whatever the maps
/// say, and why: those of the change set's files the maps cannot answer
/// for, each placed on its own (a `CHANGELOG.md` beside a Rust edit costs
/// what it costs alone, not the whole change set's static tier).
/// `by_reads` are the changed files only run-time reads reach, each with
/// the tests that read them (sorted): those tests run, and no other for
/// them.
pub(crate) fn narrow(
    t: &Targeted,
    catalog: &Catalog,
    maps: &TestMaps,
    changed: &[String],
    texts: &Texts,
    whole: &dyn Fn(&str) -> Option<String>,
    by_reads: &[(String, Vec<TestKey>)],
) -> Narrowed {
    if maps.is_empty() {
        return Narrowed::Static("no test has a coverage map yet".into());
    }
    let mut now = BTreeMap::new();
    for path in changed {
        match check_file(path, maps, texts, catalog) {
            Ok(placed) => now.insert(path.as_str(), placed),
            Err(why) => return Narrowed::Static(why),
        };
    }
    // The static tier's tests: what the catalog lists in its binaries and,
    // before any listing (a first `vigil run --changed`), what the maps
    // know of them (a binary id starts with its package's name).
    let in_tier = |binary_id: &str| t.holds(binary_id);
    let mut tier: BTreeMap<TestKey, Option<(TestState, Option<crate::core::ids::RunId>)>> = BTreeMap::new();
    for suite in catalog.suites.iter().filter(|s| in_tier(&s.binary_id)) {
        for test in suite.tests.iter().filter(|t| !t.ignored) {
            tier.insert(
                TestId(suite.binary_id.to_string(), test.name.clone()),
                Some((test.state, test.run)),
            );
        }
    }
    for key in maps.tests.keys().filter(|k| in_tier(&k.0)) {
        tier.entry(key.clone()).or_insert(None);
    }
    let static_tests = tier.len();
    let mut reasons = BTreeMap::new();
    let mut skipped = Vec::new();
    let mut doc_cleared = Vec::new();
    // (a kept version's hash, a value's name) → the bodies reading it there.
    let mut old_readers: HashMap<(String, String), Option<Vec<[u32; 2]>>> = HashMap::new();
    for (key, known) in tier {
        let always = match known {
            Some((TestState::Failed | TestState::Xpass, _)) => Some("failed last time"),
            Some((TestState::Cancelled, _)) => Some("cancelled last time"),
            Some((_, None)) => Some("never run"),
            _ => None,
        };
        if let Some(why) = always {
            reasons.insert(key, why.to_owned());
            continue;
        }
        if let Some(why) = whole(&key.0) {
            reasons.insert(key, why);
            continue;
        }
        let Some(map) = maps.tests.get(&key) else {
            reasons.insert(key, "no coverage map yet".to_owned());
            continue;
        };
        if map.failed {
            reasons.insert(key, "failed last time".to_owned());
            continue;
        }
        if let Some(why) = &map.partial {
            reasons.insert(key, format!("its map is partial: {why}"));
            continue;
        }
        let mut why = Vec::new();
        for (path, placed) in &now {
            let Some(f) = map.files.get(*path) else { continue };
            if f.hash == placed.hash {
                continue;
            }
            let Some(edit) = placed.edits.get(&f.hash) else {
                why.push(format!("its map of `{path}` is stale (measured on other contents)"));
                continue;
            };
            let hit = edit
                .iter()
                .find_map(|&[a, b]| f.lines.iter().find(|r| r[0] <= b && a <= r[1]));
            if let Some(r) = hit {
                why.push(format!("covers `{path}` {}, changed", shown(*r)));
            }
        }
        // Bodies that read a `const` or `static` whose value changed: of
        // the text the map was measured on (kept), where that is another.
        // Each as changed from the version this test's map was measured on
        // (a map measured on the text now has no change here).
        let applies = |path: &str, placed: &Placed, versions: &[String]| match map.files.get(path) {
            Some(f) => f.hash != placed.hash && (versions.is_empty() || versions.contains(&f.hash)),
            None => true,
        };
        let sites = now
            .iter()
            .flat_map(|(path, p)| p.sites.iter().filter(move |s| applies(path, p, &s.2)))
            .map(|(name, site, _)| (name, site));
        for (name, site) in sites {
            let Some(f) = map.files.get(&site.path) else { continue };
            let readers = if f.hash == site.hash {
                Some(vec![site.lines])
            } else {
                old_readers
                    .entry((f.hash.clone(), name.clone()))
                    .or_insert_with(|| {
                        let old = texts.versions.get(&f.hash)?;
                        if name.starts_with('`') {
                            // An embedded file: its site's body, by the old text's includes.
                            return None;
                        }
                        let name = name.strip_prefix("fn ").unwrap_or(name);
                        crate::core::syntax::value_readers(old, name, true).ok()
                    })
                    .clone()
            };
            let Some(readers) = readers else {
                why.push(format!(
                    "its map of `{}` is stale (measured on other contents) and it names `{}`, changed",
                    site.path,
                    name.strip_prefix("fn ").unwrap_or(name)
                ));
                continue;
            };
            let hit = readers
                .iter()
                .find_map(|&[a, b]| f.lines.iter().find(|r| r[0] <= b && a <= r[1]));
            if let Some(r) = hit {
                let what = if name.starts_with('`') {
                    format!("which embeds {name} (changed)")
                } else if let Some(f) = name.strip_prefix("fn ") {
                    format!("which names `{f}`, a function the change adds (a call may now resolve to it)")
                } else {
                    format!("which reads `{name}` (its value changed)")
                };
                why.push(format!("covers `{}` {}, {what}", site.path, shown(*r)));
            }
        }
        for (path, readers) in by_reads {
            if readers.binary_search(&key).is_ok() {
                why.push(format!("read `{path}` when it last ran"));
            }
        }
        if why.is_empty() {
            if key.0.ends_with("::doc") {
                doc_cleared.push(key);
            } else {
                skipped.push(key);
            }
        } else {
            let mut why = why.join("; ");
            if let Some(shared) = &map.shared {
                why.push_str(&format!(" ({shared})"));
            }
            reasons.insert(key, why);
        }
    }
    let filterset = if skipped.is_empty() {
        t.filterset.clone()
    } else {
        format!("({}) & not ({})", t.filterset, skip_terms(&skipped))
    };
    let mut notes = Vec::new();
    let mut docs = Vec::new();
    for (path, placed) in &now {
        if placed.layout {
            notes.push(format!("only comments and layout changed in `{path}`"));
        }
        notes.extend(placed.values.iter().cloned());
        docs.extend(placed.docs.iter().map(|d| (path.to_string(), d.clone())));
    }
    Narrowed::Tests {
        filterset,
        reasons,
        static_tests,
        skipped,
        doc_cleared,
        notes,
        docs,
        code_changed: now.values().any(Placed::code_changed),
    }
}

fn shown(r: [u32; 2]) -> String {
    if r[0] == r[1] {
        r[0].to_string()
    } else {
        format!("{}–{}", r[0], r[1])
    }
}

/// `binary_id(b) & (test(=x) | test(=y))` per binary, joined with `|`.
fn skip_terms(skipped: &[TestKey]) -> String {
    let mut by_binary: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for TestId(b, n) in skipped {
        by_binary.entry(b).or_default().push(n);
    }
    by_binary
        .into_iter()
        .map(|(b, names)| {
            let tests: Vec<String> = names.iter().map(|n| format!("test(={n})")).collect();
            format!("(binary_id({b}) & ({}))", tests.join(" | "))
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::testmap::{FileMap, TestMap};

    const OLD: &str = "pub const RATE: u32 = 3;\n\npub fn price(n: u32) -> u32 {\n    n * 10\n}\n\npub fn tax(n: u32) -> u32 {\n    n * RATE\n}\n";

    fn maps(hash: &str) -> TestMaps {
        let map = |lines: Vec<[u32; 2]>| TestMap {
            files: [(
                "src/lib.rs".to_owned(),
                FileMap {
                    hash: hash.to_owned(),
                    lines,
                    branches: vec![],
                },
            )]
            .into(),
            partial: None,
            shared: None,
            failed: false,
            reads: None,
        };
        let mut m = TestMaps::default();
        m.merge(vec![
            (TestId::new("t", "prices"), map(vec![[3, 5]])),
            (TestId::new("t", "taxes"), map(vec![[7, 9]])),
        ]);
        m
    }

    fn catalog() -> Catalog {
        use crate::core::catalog::{ListedSuite, ListedTest};
        let mut c = Catalog::default();
        let listed = vec![ListedSuite {
            binary_id: "t".into(),
            package: "t".into(),
            binary_name: "t".into(),
            kind: "lib".into(),
            binary_path: "/t/t".into(),
            tests: ["prices", "taxes", "fresh"]
                .iter()
                .map(|n| ListedTest {
                    name: n.to_string(),
                    ignored: false,
                    selected: true,
                })
                .collect(),
        }];
        c.merge_listing(&listed, &[], true);
        for t in &mut c.suites[0].tests {
            if t.name != "fresh" {
                t.run = Some(crate::core::ids::RunId(1));
                t.state = TestState::Passed;
            }
        }
        c
    }

    fn targeted() -> Targeted {
        Targeted {
            filterset: "rdeps(t)".into(),
            binaries: [("t".to_owned(), "`src/lib.rs` changed".to_owned())].into(),
            packages: BTreeMap::new(),
            reasons: vec![],
            ignored: vec![],
        }
    }

    fn texts(new: &str) -> Texts {
        Texts {
            current: [("src/lib.rs".to_owned(), Some(new.to_owned()))].into(),
            versions: [(content_hash(OLD.as_bytes()), OLD.to_owned())].into(),
            attributions: HashMap::new(),
            value_sites: HashMap::new(),
            include_sites: HashMap::new(),
            test_macros: HashMap::new(),
            baselines: HashMap::new(),
        }
    }

    /// `src/lib.rs` changed from `OLD` to `new`, placed against `maps`.
    fn narrow_lib(maps: &TestMaps, new: &str) -> Narrowed {
        narrow(
            &targeted(),
            &catalog(),
            maps,
            &["src/lib.rs".into()],
            &texts(new),
            &|_| None,
            &[],
        )
    }

    #[test]
    fn an_edit_inside_one_function_keeps_the_tests_that_reach_it() {
        let new = OLD.replace("n * 10", "n * 11");
        let hash = content_hash(OLD.as_bytes());
        let Narrowed::Tests {
            filterset,
            reasons,
            static_tests,
            skipped,
            ..
        } = narrow_lib(&maps(&hash), &new)
        else {
            panic!("narrowed")
        };
        assert_eq!(static_tests, 3);
        assert_eq!(skipped, vec![TestId::new("t", "taxes")]);
        assert_eq!(reasons[&TestId::new("t", "prices")], "covers `src/lib.rs` 3–5, changed");
        assert_eq!(reasons[&TestId::new("t", "fresh")], "never run");
        assert_eq!(filterset, "(rdeps(t)) & not ((binary_id(t) & (test(=taxes))))");
    }

    #[test]
    fn a_new_method_runs_the_tests_that_reach_code_naming_it_elsewhere() {
        // `impl Price { fn rate }` is new; `src/other.rs` calls `.rate()`
        // (a trait's method until now: an inherent one is chosen over it).
        let old = format!("{OLD}\npub struct Price;\n\nimpl Price {{}}\n");
        let new = old.replace(
            "impl Price {}",
            "impl Price {\n    pub fn rate(&self) -> u32 {\n        RATE\n    }\n}",
        );
        let hash = content_hash(old.as_bytes());
        let mut maps = maps(&hash);
        let other = content_hash(b"other");
        maps.tests.get_mut(&TestId::new("t", "taxes")).unwrap().files.insert(
            "src/other.rs".into(),
            FileMap {
                hash: other.clone(),
                lines: vec![[2, 4]],
                branches: vec![],
            },
        );
        let run = |sites: Result<Vec<ValueSite>, String>| {
            let mut texts = texts(&new);
            texts.versions = [(hash.clone(), old.clone())].into();
            texts.value_sites.insert("rate".into(), sites);
            narrow(
                &targeted(),
                &catalog(),
                &maps,
                &["src/lib.rs".into()],
                &texts,
                &|_| None,
                &[],
            )
        };
        let site = ValueSite {
            path: "src/other.rs".into(),
            hash: other.clone(),
            lines: [2, 4],
        };
        let Narrowed::Tests {
            reasons,
            skipped,
            notes,
            ..
        } = run(Ok(vec![site]))
        else {
            panic!("narrowed")
        };
        assert_eq!(skipped, vec![TestId::new("t", "prices")], "{reasons:?}");
        assert_eq!(
            reasons[&TestId::new("t", "taxes")],
            "covers `src/other.rs` 2–4, which names `rate`, a function the change adds (a call may now resolve to it)"
        );
        assert_eq!(
            notes,
            [
                "`src/lib.rs`: `Price::fn rate` (lines 14–16) added, and code that names `rate` may now call it; \
              named in 1 function body (the tests that reach it run)"
            ]
        );
        // Named nowhere else: no existing test can reach it.
        let Narrowed::Tests { skipped, notes, .. } = run(Ok(vec![])) else {
            panic!("narrowed")
        };
        assert_eq!(skipped, vec![TestId::new("t", "prices"), TestId::new("t", "taxes")]);
        assert!(notes.is_empty(), "{notes:?}");
        // Named where no map can answer (a doc comment: a doctest may call it).
        let n = run(Err("a doc comment names `rate` (line 3; a doctest may read it)".into()));
        assert!(
            matches!(&n, Narrowed::Static(why) if why.starts_with("`src/lib.rs`: `Price::fn rate` (lines 14–16) added") && why.ends_with("a doctest may read it)")),
            "{n:?}"
        );
    }

    #[test]
    fn a_const_falls_back_to_the_static_tier_and_says_why() {
        let new = OLD.replace("RATE: u32 = 3", "RATE: u32 = 4");
        let hash = content_hash(OLD.as_bytes());
        let n = narrow_lib(&maps(&hash), &new);
        assert!(
            matches!(&n, Narrowed::Static(why) if why == "`src/lib.rs`: `const RATE` (line 1) changed: evaluated at compile time"),
            "{n:?}"
        );
    }

    #[test]
    fn a_consts_new_value_runs_the_tests_that_reach_the_bodies_reading_it() {
        let new = OLD.replace("RATE: u32 = 3", "RATE: u32 = 4");
        let hash = content_hash(OLD.as_bytes());
        let now = content_hash(new.as_bytes());
        let mut texts = texts(&new);
        // As the adapter finds it: `fn tax`'s body names `RATE`.
        texts.value_sites.insert(
            "RATE".into(),
            Ok(vec![ValueSite {
                path: "src/lib.rs".into(),
                hash: now.clone(),
                lines: [7, 9],
            }]),
        );
        // The maps of the text now (as after a run on it): `taxes` reaches
        // `fn tax`, `prices` does not.
        let maps_now = maps(&now);
        let mut maps = maps(&hash);
        for (k, m) in &mut maps.tests {
            m.files
                .insert("src/other.rs".into(), maps_now.tests[k].files["src/lib.rs"].clone());
        }
        let run = |texts: &Texts, maps: &TestMaps| {
            narrow(
                &targeted(),
                &catalog(),
                maps,
                &["src/lib.rs".into()],
                texts,
                &|_| None,
                &[],
            )
        };
        // The readers' lines are of the text now; maps measured on the old
        // text of that file are read against the old text's readers.
        let Narrowed::Tests { reasons, skipped, .. } = run(&texts, &maps) else {
            panic!("narrowed")
        };
        assert_eq!(skipped, vec![TestId::new("t", "prices")], "{reasons:?}");
        assert_eq!(
            reasons[&TestId::new("t", "taxes")],
            "covers `src/lib.rs` 7–9, which reads `RATE` (its value changed)"
        );
        // A reader in another file, whose maps are current: exactly the
        // tests that reach it.
        texts.value_sites.insert(
            "RATE".into(),
            Ok(vec![ValueSite {
                path: "src/other.rs".into(),
                hash: now.clone(),
                lines: [7, 9],
            }]),
        );
        let Narrowed::Tests { reasons, skipped, .. } = run(&texts, &maps) else {
            panic!("narrowed")
        };
        assert_eq!(skipped, vec![TestId::new("t", "prices")], "{reasons:?}");
        assert_eq!(
            reasons[&TestId::new("t", "taxes")],
            "covers `src/other.rs` 7–9, which reads `RATE` (its value changed)"
        );
        // Named outside a body somewhere: the static tier, and where.
        texts.value_sites.insert(
            "RATE".into(),
            Err("`src/k.rs` line 2: `const K` (line 2) names `RATE` outside a function body".into()),
        );
        let Narrowed::Static(why) = run(&texts, &maps) else {
            panic!("static")
        };
        assert_eq!(
            why,
            "`src/lib.rs`: `const RATE` (line 1) changed: evaluated at compile time; `src/k.rs` line 2: `const K` \
             (line 2) names `RATE` outside a function body"
        );
    }

    #[test]
    fn a_file_no_map_mentions_is_placed_by_its_text_as_the_session_began() {
        let root = "//! The crate.\n\n/// Prices.\npub mod price;\n";
        let mut texts = texts(OLD);
        let h = content_hash(root.as_bytes());
        texts.versions.insert(h.clone(), root.to_owned());
        texts.baselines.insert("src/root.rs".into(), h);
        let hash = content_hash(OLD.as_bytes());
        let run = |texts: &Texts| {
            narrow(
                &targeted(),
                &catalog(),
                &maps(&hash),
                &["src/root.rs".into()],
                texts,
                &|_| None,
                &[],
            )
        };
        for (now, docs) in [
            (root.replace("//! The crate.", "//! The crate, fixed."), 1),
            (root.replace("/// Prices.", "/// Prices, fixed."), 1),
        ] {
            texts.current.insert("src/root.rs".into(), Some(now.clone()));
            let Narrowed::Tests {
                reasons,
                docs: d,
                code_changed,
                ..
            } = run(&texts)
            else {
                panic!("placed: {now}")
            };
            assert_eq!(
                reasons.keys().map(|k| k.1.as_str()).collect::<Vec<_>>(),
                ["fresh"],
                "{reasons:?}"
            );
            assert!(!code_changed);
            assert_eq!(d.len(), docs, "{d:?}");
        }
        // A comment alone changes no token: said so.
        texts.current.insert(
            "src/root.rs".into(),
            Some(root.replace("\n\n/// Prices.", "\n// a note\n\n/// Prices.")),
        );
        let Narrowed::Tests { notes, .. } = run(&texts) else {
            panic!("placed")
        };
        assert!(
            notes.iter().any(|n| n.contains("only comments and layout")),
            "{notes:?}"
        );
        // Code: the static tier, as before.
        texts
            .current
            .insert("src/root.rs".into(), Some(format!("{root}pub mod tax;\n")));
        assert!(matches!(run(&texts), Narrowed::Static(why) if why.contains("no coverage map mentions")));
        // No text as the session began: the static tier.
        texts.baselines.clear();
        texts.current.insert(
            "src/root.rs".into(),
            Some(root.replace("/// Prices.", "/// Prices, fixed.")),
        );
        assert!(matches!(run(&texts), Narrowed::Static(_)));
    }

    #[test]
    fn a_comment_runs_no_test_and_says_so() {
        let new = OLD.replace("    n * 10", "    // ten\n    n * 10");
        let hash = content_hash(OLD.as_bytes());
        let Narrowed::Tests {
            reasons,
            skipped,
            notes,
            code_changed,
            ..
        } = narrow_lib(&maps(&hash), &new)
        else {
            panic!("narrowed")
        };
        assert_eq!(
            notes,
            vec!["only comments and layout changed in `src/lib.rs`".to_owned()]
        );
        assert!(!code_changed);
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        // Only the test that never ran is left.
        assert_eq!(reasons.keys().map(|k| k.1.as_str()).collect::<Vec<_>>(), vec!["fresh"]);
    }

    #[test]
    fn two_edits_in_two_functions_keep_both_and_no_more() {
        let new = OLD.replace("n * 10", "n * 11").replace("n * RATE", "n * RATE + 1");
        let hash = content_hash(OLD.as_bytes());
        let Narrowed::Tests { reasons, skipped, .. } = narrow_lib(&maps(&hash), &new) else {
            panic!("narrowed")
        };
        assert!(skipped.is_empty());
        assert_eq!(reasons[&TestId::new("t", "taxes")], "covers `src/lib.rs` 7–9, changed");
    }

    #[test]
    fn a_partial_map_always_runs_and_says_why() {
        let new = OLD.replace("n * 10", "n * 11");
        let hash = content_hash(OLD.as_bytes());
        let mut m = maps(&hash);
        if let Some(t) = m.tests.get_mut(&TestId::new("t", "taxes")) {
            t.partial = Some("a process it started ran 3 functions of a binary vigil could not read".into());
        }
        let Narrowed::Tests { reasons, skipped, .. } = narrow_lib(&m, &new) else {
            panic!("narrowed")
        };
        assert!(skipped.is_empty(), "{skipped:?}");
        assert!(reasons[&TestId::new("t", "taxes")].starts_with("its map is partial: a process"));
    }

    #[test]
    fn binaries_another_file_runs_whole_keep_every_test_and_say_why() {
        let new = OLD.replace("n * 10", "n * 11");
        let hash = content_hash(OLD.as_bytes());
        let whole = |b: &str| (b == "t").then(|| "every test of `t` runs: `data/x.txt` is not Rust source".to_owned());
        let Narrowed::Tests { skipped, reasons, .. } = narrow(
            &targeted(),
            &catalog(),
            &maps(&hash),
            &["src/lib.rs".into()],
            &texts(&new),
            &whole,
            &[],
        ) else {
            panic!("narrowed")
        };
        assert!(skipped.is_empty(), "{skipped:?}");
        assert_eq!(
            reasons[&TestId::new("t", "taxes")],
            "every test of `t` runs: `data/x.txt` is not Rust source"
        );
        // The edit's own reason stands where it applies.
        assert!(reasons[&TestId::new("t", "prices")].contains("every test of `t` runs"));
    }

    #[test]
    fn a_file_read_at_run_time_runs_exactly_its_readers() {
        let hash = content_hash(OLD.as_bytes());
        let taxes = TestId::new("t", "taxes");
        let Narrowed::Tests { skipped, reasons, .. } = narrow(
            &targeted(),
            &catalog(),
            &maps(&hash),
            &[],
            &texts(OLD),
            &|_| None,
            &[("data/rates.json".to_owned(), vec![taxes.clone()])],
        ) else {
            panic!("narrowed")
        };
        // `fresh` never ran: it runs whatever changed.
        let fresh = TestId::new("t", "fresh");
        assert_eq!(reasons.keys().collect::<Vec<_>>(), [&fresh, &taxes]);
        assert_eq!(reasons[&taxes], "read `data/rates.json` when it last ran");
        assert!(skipped.contains(&TestId::new("t", "prices")), "{skipped:?}");
    }

    #[test]
    fn maps_that_cannot_answer_leave_the_static_tier() {
        let new = OLD.replace("n * 10", "n * 11");
        let hash = content_hash(OLD.as_bytes());
        let other = narrow(
            &targeted(),
            &catalog(),
            &maps(&hash),
            &["data/x.txt".into()],
            &texts(&new),
            &|_| None,
            &[],
        );
        assert!(matches!(other, Narrowed::Static(why) if why.contains("not Rust")));
        let unmapped = narrow(
            &targeted(),
            &catalog(),
            &maps(&hash),
            &["src/other.rs".into()],
            &texts(&new),
            &|_| None,
            &[],
        );
        assert!(matches!(unmapped, Narrowed::Static(_)));
        // Measured on a version vigil did not keep: the map is stale.
        let Narrowed::Tests { reasons, skipped, .. } = narrow_lib(&maps("gone"), &new) else {
            panic!("narrowed")
        };
        assert!(skipped.is_empty());
        assert!(reasons[&TestId::new("t", "taxes")].contains("stale"));
    }
}
