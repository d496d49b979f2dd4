//! The doc lane: which packages' doctests run, narrowed by their maps and doc-comment edits; their results as they stream in.

use super::*;
use crate::core::ids::RunId;

/// The packages whose doctests the run runs: every package with a lib on
/// a full run (also `a`); on a change set, the packages the graph selects
/// and those whose lib's tests were selected; the package of a doctest
/// rerun with `r`; none for another filter, the sweep or a service's
/// return, nor in a shard other than the first (they run once per run).
pub(super) fn doc_packages(
    model: &Model,
    trigger: Trigger,
    selection: &Selection,
    binary_reasons: &BTreeMap<String, String>,
    package_reasons: &BTreeMap<String, String>,
) -> Vec<String> {
    let other_shard = model.shard && !model.shard_docs;
    if !model.rules.doc_lane || other_shard || matches!(trigger, Trigger::Sweep | Trigger::Service | Trigger::Recheck) {
        return Vec::new();
    }
    if trigger == Trigger::Key && !model.doc_rerun.is_empty() {
        return model.doc_rerun.clone();
    }
    let with_lib = |name: &str| {
        model
            .workspace
            .packages
            .iter()
            .any(|p| p.name == name && p.has_target("lib"))
    };
    let mut out: Vec<String> = match selection {
        Selection::All => model.workspace.packages.iter().map(|p| p.name.clone()).collect(),
        Selection::Filter { .. } if !binary_reasons.is_empty() || !package_reasons.is_empty() => {
            // A package's doctests depend on its lib: the packages the
            // graph selects, and those whose lib's own tests were selected
            // (not a change to one integration test).
            let mut names: Vec<String> = package_reasons.keys().cloned().collect();
            for b in binary_reasons.keys() {
                if let Some(s) = model.catalog.suite(b).filter(|s| s.kind == "lib") {
                    names.push(s.package.clone());
                }
            }
            names
        }
        Selection::Filter { .. } | Selection::Changed { .. } => Vec::new(),
    };
    out.retain(|p| with_lib(p));
    out.sort();
    out.dedup();
    out
}

/// The doc lane narrowed by the doctests' maps: a package whose listed
/// doctests the maps all clear drops out; the others run the items of the
/// doctests that reach the change (rustdoc's names shift with the lines
/// above them, so an item's doctests are named, not each one), and the
/// items whose doc comments changed.
pub(super) fn doctests_by_maps(
    model: &Model,
    packages: Vec<String>,
    cleared: &[TestKey],
    docs: &[(String, DocEdit)],
) -> (Vec<String>, Vec<String>) {
    let (edited, mut filters) = doc_filters(&model.workspace, docs);
    // A package's doctests: as listed, and as the maps know them (a new
    // process has listed none yet).
    let known = |p: &str| -> Vec<String> {
        let id = format!("{p}::doc");
        let mut names: Vec<String> = model
            .catalog
            .suite(&id)
            .map(|s| s.tests.iter().filter(|t| !t.ignored).map(|t| t.name.clone()).collect())
            .unwrap_or_default();
        names.extend(model.test_maps.tests.keys().filter(|k| k.0 == id).map(|k| k.1.clone()));
        names.sort();
        names.dedup();
        names
    };
    let doctests: Vec<(String, Vec<String>)> = packages
        .into_iter()
        .map(|p| {
            let names = known(&p);
            (p, names)
        })
        .collect();
    if doctests.iter().any(|(_, names)| names.is_empty()) {
        // A package whose doctests were never listed: every doctest runs,
        // unfiltered.
        let mut all: Vec<String> = doctests.into_iter().map(|(p, _)| p).chain(edited).collect();
        all.sort();
        all.dedup();
        return (all, Vec::new());
    }
    let mut kept = Vec::new();
    let mut narrowed = false;
    // What must run: the doctests the maps do not clear, and whatever an
    // edited doc comment names (its examples' names hold the item).
    let mut wanted: Vec<String> = docs.iter().map(|(path, d)| format!("{path} - {}", d.item)).collect();
    let mut skipped = Vec::new();
    for (p, names) in doctests {
        let id = format!("{p}::doc");
        let mut any = false;
        for name in names {
            if cleared.iter().any(|TestId(b, n)| *b == id && *n == name) {
                narrowed = true;
                skipped.push(doc_item(&name).to_owned());
                continue;
            }
            any = true;
            filters.push(doc_item(&name).to_owned());
            wanted.push(name);
        }
        if any || edited.contains(&p) {
            kept.push(p);
        }
    }
    if !narrowed {
        return (kept, Vec::new());
    }
    filters.sort();
    filters.dedup();
    // Filters match parts of names (an item's name is part of its
    // members'): the cleared ones are skipped by name where no wanted
    // doctest's name holds that name.
    skipped.sort();
    skipped.dedup();
    for s in skipped {
        if !wanted.iter().any(|w| w.contains(&s)) && !filters.contains(&s) {
            filters.push("--skip".to_owned());
            filters.push(s);
        }
    }
    (kept, filters)
}

/// A doctest's item (`Money::add` of `src/lib.rs - Money::add (line 12)`),
/// or its file for crate and module docs: a filter without spaces, which
/// rustdoc splits its test arguments at.
pub(super) fn doc_item(name: &str) -> &str {
    let head = name.rsplit_once(" (line ").map_or(name, |(head, _)| head);
    head.split_once(" - ")
        .map_or(head, |(file, item)| if item.is_empty() { file } else { item })
}

/// The doc lane for changed doc comments: the packages that own the files,
/// and a name filter per documented item (rustdoc names an example
/// `src/lib.rs - Money::add (line 12)`; crate and module docs by the
/// file). Filters match parts of names, so they select a superset.
pub(super) fn doc_filters(ws: &Workspace, docs: &[(String, DocEdit)]) -> (Vec<String>, Vec<String>) {
    let mut packages = Vec::new();
    let mut filters = Vec::new();
    for (path, doc) in docs {
        let abs = ws.root.join(path);
        let Some((p, true)) = ws.owning_package(&abs) else {
            continue;
        };
        if !p.has_target("lib") {
            continue;
        }
        packages.push(p.name.clone());
        // No spaces: rustdoc splits its test arguments at them.
        filters.push(if doc.item.is_empty() {
            abs.strip_prefix(&p.manifest_dir).unwrap_or(&abs).display().to_string()
        } else {
            doc.item.clone()
        });
    }
    packages.sort();
    packages.dedup();
    filters.sort();
    filters.dedup();
    (packages, filters)
}

/// Doctests ran where nextest had nothing to run: the run passed (or
/// failed) on them.
pub(super) fn with_doctests(model: &mut Model, run: RunId, outcome: Outcome) -> Outcome {
    match outcome {
        Outcome::NoTests if model.run_mut(run).is_some_and(|r| r.selected_tests > 0) => Outcome::Passed,
        other => other,
    }
}

/// The doctests of `run`'s packages came back.
pub(super) fn on_doctests(
    model: &mut Model,
    run: RunId,
    suite: ListedSuite,
    events: Vec<TestEvent>,
    at: Duration,
    fx: &mut Vec<Effect>,
) {
    let Some(r) = model.run_mut(run) else { return };
    if !r.doc_lane.running() {
        return;
    }
    if r.phase.building() {
        // Before nextest's list: taken in after it (a full listing would
        // drop the doc suite otherwise).
        r.early.push(EarlyMsg::Doctests { suite, events, at });
        return;
    }
    let rules = model.rules.clone();
    model
        .catalog
        .merge_listing(std::slice::from_ref(&suite), &rules.e2e_patterns, false);
    if let Some(si) = model.catalog.suite_index(&suite.binary_id) {
        for t in &mut model.catalog.suites[si].tests {
            t.enrol(run);
        }
    }
    if let Some(r) = model.run_mut(run) {
        r.selected_tests += suite.tests.len();
        if !r.selected_binaries.contains(&suite.binary_id) {
            r.selected_binaries.push(suite.binary_id.clone());
        }
    }
    for event in events {
        on_test(model, run, event, at, fx);
    }
}

/// `cargo test --doc` ended: the run goes on as nextest left it.
pub(super) fn on_doctests_done(
    model: &mut Model,
    run: RunId,
    error: Option<String>,
    at: Duration,
    fx: &mut Vec<Effect>,
) {
    let Some(r) = model.run_mut(run) else { return };
    if !r.doc_lane.running() {
        return;
    }
    if r.phase.building() {
        r.early.push(EarlyMsg::DoctestsDone { error, at });
        return;
    }
    let waiting = match std::mem::replace(&mut r.doc_lane, DocLane::Done) {
        DocLane::Awaited(outcome) => Some(outcome),
        DocLane::Idle | DocLane::Running | DocLane::Done => None,
    };
    if let Some(e) = error {
        warn(model, run, format!("doctests not run: {e}"), fx);
    }
    // nextest still running: the run ends when it does.
    let Some(outcome) = waiting else { return };
    let cancelled = model.run_mut(run).is_some_and(|r| r.cancel_requested);
    let outcome = if cancelled { Outcome::Cancelled } else { outcome };
    let outcome = with_doctests(model, run, outcome);
    after_tests(model, run, outcome, at, fx);
}
