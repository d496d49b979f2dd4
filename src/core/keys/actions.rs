//! What the keys that reach outside the view do: open the editor, copy a
//! failure, accept insta snapshots, start a service, rerun the selection.

use super::*;

/// `e`: the selected failure's location (else the test's definition), the
/// selected line of a coverage source, or the build's first diagnostic.
pub(super) fn edit(model: &mut Model) -> Vec<Effect> {
    use crate::core::effect::EditTarget;
    let root = model.workspace.root.clone();
    let build_failed = model.build_failed();
    if model.ui.tab == Tab::Coverage {
        if let Some((path, _)) = &model.ui.source {
            let line = model.ui.source_line.max(1) as u32;
            return vec![Effect::Edit(EditTarget::At {
                path: root.join(path),
                line,
            })];
        }
    } else if model.ui.tab == Tab::Tests && build_failed {
        let at = model
            .current_run()
            .into_iter()
            .flat_map(|r| &r.build_errors)
            .find_map(|d| crate::core::locate::diagnostic(&d.rendered));
        if let Some((file, line)) = at {
            return vec![Effect::Edit(EditTarget::At {
                path: root.join(file),
                line,
            })];
        }
    } else if model.ui.tab == Tab::Tests {
        if let Some((b, name)) = selected_test(model) {
            let Some(suite) = model.catalog.suite(&b) else {
                return Vec::new();
            };
            let test = suite.test_index(&name).map(|i| &suite.tests[i]);
            if let Some(l) = test.and_then(|t| t.failure.as_ref()).and_then(|f| f.location.as_ref()) {
                return vec![Effect::Edit(EditTarget::At {
                    path: root.join(&l.file),
                    line: l.line,
                })];
            }
            let dirs = model
                .workspace
                .packages
                .iter()
                .filter(|p| p.name == suite.package)
                .map(|p| p.manifest_dir.clone())
                .collect();
            let name = match suite.suite_type {
                // `src/lib.rs - Money::new (line 12)`: the example's line.
                crate::core::catalog::SuiteType::Doc => {
                    if let Some((file, line)) = crate::core::locate::doctest(&name) {
                        let dir = model
                            .workspace
                            .packages
                            .iter()
                            .find(|p| p.name == suite.package)
                            .map_or(root.clone(), |p| p.manifest_dir.clone());
                        return vec![Effect::Edit(EditTarget::At {
                            path: dir.join(file),
                            line,
                        })];
                    }
                    name
                }
                _ => name,
            };
            return vec![Effect::Edit(EditTarget::TestFn { dirs, name })];
        }
    }
    model.ui.note = Some("nothing to open here: select a test, a coverage line or a build error".into());
    Vec::new()
}

/// The selected test; on a suite or module row, its first failed test.
pub(super) fn selected_test(model: &Model) -> Option<(std::sync::Arc<str>, String)> {
    let rows = rows(model);
    let key = rows.get(selected_index(&rows, model)).map(|r| r.key(model))?;
    let first_failed = |b: &std::sync::Arc<str>, prefix: &str| {
        model.catalog.suite(b).and_then(|s| {
            s.tests
                .iter()
                .find(|t| t.failure.is_some() && t.name.starts_with(prefix))
                .map(|t| (b.clone(), t.name.clone()))
        })
    };
    match key {
        RowKey::Test(b, n) => Some((b, n)),
        RowKey::Suite(b) => first_failed(&b, ""),
        RowKey::Module(b, m) => first_failed(&b, &format!("{m}::")),
    }
}

/// `u`: accept the selected failure's pending insta snapshot; `U`: every
/// pending snapshot of the last run. The tests rerun once they are moved.
pub(super) fn accept(model: &mut Model, all: bool) -> Vec<Effect> {
    let keys: Vec<(std::sync::Arc<str>, String)> = if all {
        let run = model.current_run().map(|r| r.number);
        model
            .catalog
            .suites
            .iter()
            .flat_map(|s| {
                s.tests
                    .iter()
                    .filter(move |t| t.run == run && t.failure.is_some())
                    .map(move |t| (s.binary_id.clone(), t.name.clone()))
            })
            .collect()
    } else {
        selected_test(model).into_iter().collect()
    };
    let how = if all { "key U" } else { "key u" };
    let effects = accept_tests(model, keys, how);
    if effects.is_empty() {
        model.ui.note = Some(if all {
            "no pending snapshot in the last run".into()
        } else {
            "the selected test has no pending snapshot".into()
        });
    }
    effects
}

/// Accepts the pending insta snapshots of these tests and reruns them
/// (`how`: what asked, for the run's reason); nothing when none has one.
pub(crate) fn accept_tests(model: &Model, keys: Vec<(std::sync::Arc<str>, String)>, how: &str) -> Vec<Effect> {
    let mut snaps = Vec::new();
    let mut terms = Vec::new();
    for (b, name) in keys {
        let Some(suite) = model.catalog.suite(&b) else { continue };
        let Some(snap) = suite
            .test_index(&name)
            .and_then(|i| suite.tests[i].failure.as_ref())
            .and_then(|f| crate::core::insta::snapshot(&f.output))
        else {
            continue;
        };
        let dir = model
            .workspace
            .packages
            .iter()
            .find(|p| p.name == suite.package)
            .map_or(model.workspace.root.clone(), |p| p.manifest_dir.clone());
        snaps.push(dir.join(snap.file));
        terms.push(format!("(binary_id({b}) & test(={name}))"));
    }
    if snaps.is_empty() {
        return Vec::new();
    }
    let n = snaps.len();
    vec![Effect::AcceptSnapshots {
        snaps,
        rerun: Selection::Filter {
            expr: terms.join(" | "),
            reasons: vec![format!(
                "{n} snapshot{} accepted ({how})",
                if n == 1 { "" } else { "s" }
            )],
        },
    }]
}

/// `y`: the selected failure (test, message, location, output) onto the
/// clipboard.
pub(super) fn copy(model: &mut Model) -> Vec<Effect> {
    let Some((b, name)) = selected_test(model) else {
        model.ui.note = Some("select a failed test to copy it".into());
        return Vec::new();
    };
    let failure = model
        .catalog
        .suite(&b)
        .and_then(|s| s.test_index(&name).map(|i| &s.tests[i]))
        .and_then(|t| t.failure.as_ref());
    let Some(f) = failure else {
        model.ui.note = Some(format!("{b} {name} has no failure to copy"));
        return Vec::new();
    };
    let mut text = format!("{b} {name}\n");
    if let Some(l) = &f.location {
        text.push_str(&format!("at {}:{}:{}\n", l.file, l.line, l.column));
    }
    text.push_str(&f.message);
    text.push_str("\n\n");
    text.push_str(&f.output);
    model.ui.note = Some(format!("copied {b} {name} (OSC 52)"));
    vec![Effect::Copy { text }]
}

/// `s` in the services view: start (or restart) the selected service with
/// its `start` command.
pub(super) fn start_selected(model: &mut Model, at: Duration) -> Vec<Effect> {
    let i = model.ui.service_selected;
    let Some(s) = model.services.get(i) else {
        model.ui.note = Some("no service is configured ([[service]] in vigil.toml)".into());
        return Vec::new();
    };
    let Some(argv) = s.spec.start.clone() else {
        model.ui.note = Some(format!("`{}` has no start command", s.spec.name));
        return Vec::new();
    };
    model.ui.note = Some(format!(
        "{} `{}`: {}",
        if s.started { "restarting" } else { "starting" },
        s.spec.name,
        argv.join(" ")
    ));
    let mut fx = Vec::new();
    crate::core::gating::start(model, i, argv, at, &mut fx);
    fx
}

/// `f` in the services view: the selected service's next configured
/// fault, then none; one that would outlast the gated tests' limit is
/// passed over with the reason.
pub(super) fn cycle_fault(model: &mut Model) -> Vec<Effect> {
    let i = model.ui.service_selected;
    let Some(s) = model.services.get(i) else {
        model.ui.note = Some("no service is configured ([[service]] in vigil.toml)".into());
        return Vec::new();
    };
    let name = s.spec.name.clone();
    if s.spec.proxy.is_none() || s.spec.faults.is_empty() {
        model.ui.note = Some(format!(
            "`{name}` has no faults to inject (`proxy` and `faults = [...]` in its [[service]])"
        ));
        return Vec::new();
    }
    let faults = s.spec.faults.clone();
    let at = s.fault.as_ref().and_then(|f| faults.iter().position(|g| g == f));
    let mut fx = Vec::new();
    let mut refused = Vec::new();
    let start = at.map_or(0, |p| p + 1);
    for next in (start..faults.len()).map(Some).chain([None]) {
        let fault = next.map(|n| faults[n].clone());
        match crate::core::gating::set_fault(model, &name, fault.clone(), &mut fx) {
            Ok(()) => {
                let mut note = match fault {
                    Some(f) => format!("`{name}`: injecting {} from now on", f.label()),
                    None => format!("`{name}`: no fault"),
                };
                if !refused.is_empty() {
                    note.push_str(&format!(" (passed over: {})", refused.join("; ")));
                }
                model.ui.note = Some(note);
                return fx;
            }
            Err(why) => refused.push(why),
        }
    }
    fx
}

/// `r`: the selected test, module or suite, run again.
pub(super) fn rerun_selected(model: &mut Model, at: Duration) -> KeyOutcome {
    let rows = rows(model);
    let Some(key) = rows.get(selected_index(&rows, model)).map(|r| r.key(model)) else {
        drop(rows);
        model.ui.note = Some("nothing selected to rerun".to_owned());
        return KeyOutcome::default();
    };
    drop(rows);
    let doc_suite = match &key {
        RowKey::Suite(b) | RowKey::Module(b, _) | RowKey::Test(b, _) => model
            .catalog
            .suite(b)
            .filter(|s| s.suite_type == crate::core::catalog::SuiteType::Doc)
            .map(|s| s.package.clone()),
    };
    if let Some(package) = doc_suite {
        // Doctests run with `cargo test --doc`, not nextest (which knows
        // no such binary): nextest runs nothing, the doc lane the package.
        model.doc_rerun = vec![package.clone()];
        return follow_up(Msg::RunRequested {
            trigger: Trigger::Key,
            selection: Selection::Filter {
                expr: "none()".into(),
                reasons: vec![format!("rerun of `{package}`'s doctests (key r)")],
            },
            at,
        });
    }
    let (expr, what) = match &key {
        RowKey::Suite(b) => (format!("binary_id({b})"), b.to_string()),
        RowKey::Module(b, m) => (
            format!("binary_id({b}) & test(/^{}::/)", regex_escape(m)),
            format!("{b} {m}"),
        ),
        RowKey::Test(b, t) => (format!("binary_id({b}) & test(={t})"), format!("{b} {t}")),
    };
    follow_up(Msg::RunRequested {
        trigger: Trigger::Key,
        selection: Selection::Filter {
            expr,
            reasons: vec![format!("rerun of {what} (key r)")],
        },
        at,
    })
}

/// `c`: audit the selected test, module or suite with `vigil check`;
/// `C`: every test.
pub(super) fn check_selected(model: &mut Model, all: bool) -> Vec<Effect> {
    if model.check.as_ref().is_some_and(|c| c.result.is_none()) {
        model.ui.note = Some("a check is already running".into());
        return Vec::new();
    }
    if all {
        model.ui.note = Some("checking every test: races, state, the clock, the network, leaks…".into());
        model.check = Some(crate::core::model::CheckRun {
            what: "every test".into(),
            result: None,
        });
        return vec![Effect::Check { filter: "all()".into() }];
    }
    let rows = rows(model);
    let Some(key) = rows.get(selected_index(&rows, model)).map(|r| r.key(model)) else {
        drop(rows);
        model.ui.note = Some("nothing selected to check".to_owned());
        return Vec::new();
    };
    drop(rows);
    let (filter, what) = match &key {
        RowKey::Suite(b) => (format!("binary_id({b})"), b.to_string()),
        RowKey::Module(b, m) => (
            format!("binary_id({b}) & test(/^{}::/)", regex_escape(m)),
            format!("{b} {m}"),
        ),
        RowKey::Test(b, t) => (format!("binary_id({b}) & test(={t})"), format!("{b} {t}")),
    };
    model.ui.note = Some(format!("checking {what}: races, state, the clock, the network, leaks…"));
    model.check = Some(crate::core::model::CheckRun { what, result: None });
    vec![Effect::Check { filter }]
}
