//! Commands from clients of the socket (an editor, `vigil send`): each
//! becomes what the matching key would do, and is answered to its client.

use super::*;
use crate::core::command::{Command, Reply, TestBrief, TestSpec, To};
use std::sync::Arc;

pub(super) fn on_client(
    model: &mut Model,
    to: To,
    command: Command,
    subscribe: bool,
    at: Duration,
    fx: &mut Vec<Effect>,
) {
    let name = command.name();
    let reply = |ok: bool, message: String| Effect::Reply {
        client: to.client,
        reply: Reply {
            id: to.id,
            command: name.to_owned(),
            ok,
            message,
            tests: None,
            measured: None,
        },
    };
    match command {
        Command::Snapshot => fx.push(Effect::Snapshot { to, subscribe }),
        Command::RunAll => {
            request_run(model, Trigger::Client, Selection::All, at, fx);
            fx.push(reply(true, "running every test".into()));
        }
        Command::RerunFailed => {
            let failed: Vec<(Arc<str>, String)> = model
                .catalog
                .suites
                .iter()
                .flat_map(|s| {
                    s.tests
                        .iter()
                        .filter(|t| t.state == TestState::Failed)
                        .map(move |t| (s.binary_id.clone(), t.name.clone()))
                })
                .collect();
            if failed.is_empty() {
                fx.push(reply(true, "no failed test to rerun".into()));
                return;
            }
            let n = failed.len();
            rerun(
                model,
                failed,
                format!("rerun of the {n} failed test{} (client)", plural(n)),
                at,
                fx,
            );
            fx.push(reply(true, format!("rerunning {n} failed test{}", plural(n))));
        }
        Command::Rerun(spec) => match resolve(model, &spec) {
            Ok(tests) => {
                let n = tests.len();
                rerun(model, tests, format!("rerun of {spec} (client)"), at, fx);
                fx.push(reply(true, format!("rerunning {spec} ({n} test{})", plural(n))));
            }
            Err(e) => fx.push(reply(false, e)),
        },
        Command::RunChanged(files) => {
            let paths: Vec<PathBuf> = files.iter().map(|f| model.workspace.root.join(f)).collect();
            for p in paths.iter().filter(|p| is_manifest(&model.workspace, p)) {
                model.manifests_stale.insert(p.clone());
            }
            let n = paths.len();
            request_run(model, Trigger::Client, Selection::Changed { files: paths }, at, fx);
            fx.push(reply(
                true,
                format!("running what {n} changed file{} affect", plural(n)),
            ));
        }
        Command::Cancel => {
            let active = model.active_run().map(|r| r.number);
            model.queued = None;
            stop_run(model, at, fx);
            fx.push(match active {
                Some(run) => reply(true, format!("cancelling run {run}")),
                None => reply(true, "no run in flight".into()),
            });
        }
        Command::AckMisses => {
            let n = model.sweep.misses.len();
            model.sweep.misses.clear();
            fx.push(reply(
                true,
                match n {
                    0 => "no selection miss to acknowledge".into(),
                    n => format!("{n} selection miss{} acknowledged", if n == 1 { "" } else { "es" }),
                },
            ));
        }
        Command::AcceptSnapshot(spec) => match resolve(model, &spec) {
            Ok(tests) => {
                let effects = crate::core::keys::accept_tests(model, tests, "client");
                fx.push(if effects.is_empty() {
                    reply(false, format!("{spec} has no pending snapshot"))
                } else {
                    reply(true, format!("accepting the pending snapshot of {spec}; rerunning"))
                });
                fx.extend(effects);
            }
            Err(e) => fx.push(reply(false, e)),
        },
        Command::Open(spec) => match resolve(model, &spec) {
            Ok(mut tests) => {
                let (b, n) = tests.remove(0);
                let said = format!("{b} {n}");
                crate::core::keys::select_test(model, b, n);
                model.ui.note = Some(format!("{said} (selected by a client)"));
                fx.push(reply(true, format!("selected {said}")));
            }
            Err(e) => fx.push(reply(false, e)),
        },
        Command::Reached { file, line } => {
            let path = match Path::new(&file).strip_prefix(&model.workspace.root) {
                Ok(rel) => rel.to_string_lossy().into_owned(),
                Err(_) => file.clone(),
            };
            let measured = model.test_maps.mentions(&path);
            let tests: Vec<TestBrief> = model
                .test_maps
                .reaching(&path, line)
                .into_iter()
                .map(|TestId(binary_id, name)| {
                    let t = model
                        .catalog
                        .suite(&binary_id)
                        .and_then(|s| s.test_index(&name).map(|i| &s.tests[i]));
                    TestBrief {
                        state: t.map_or(TestState::Pending, |t| t.state),
                        stale: t.is_some_and(|t| t.stale),
                        binary_id,
                        name,
                    }
                })
                .collect();
            let message = match (measured, tests.len()) {
                (false, _) => format!("no test's coverage map measures {path}"),
                (true, 0) => format!("no test reaches {path}:{line}"),
                (true, n) => format!("{path}:{line} is reached by {n} test{}", plural(n)),
            };
            fx.push(Effect::Reply {
                client: to.client,
                reply: Reply {
                    id: to.id,
                    command: name.to_owned(),
                    ok: true,
                    message,
                    tests: Some(tests),
                    measured: Some(measured),
                },
            });
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The tests a client named: in the binary it named, or in every binary.
fn resolve(model: &Model, spec: &TestSpec) -> Result<Vec<(Arc<str>, String)>, String> {
    let found: Vec<(Arc<str>, String)> = model
        .catalog
        .suites
        .iter()
        .filter(|s| spec.binary_id.as_deref().is_none_or(|b| *s.binary_id == *b))
        .filter(|s| s.test_index(&spec.name).is_some())
        .map(|s| (s.binary_id.clone(), spec.name.clone()))
        .collect();
    if found.is_empty() {
        let known = spec
            .binary_id
            .as_deref()
            .is_none_or(|b| model.catalog.suite(b).is_some());
        return Err(if known {
            format!("no test `{spec}` is known (is it listed yet?)")
        } else {
            format!(
                "no test binary `{}` is known",
                spec.binary_id.as_deref().unwrap_or_default()
            )
        });
    }
    Ok(found)
}

/// Reruns these tests: nextest's through a filter, doctests through the
/// doc lane (by package).
fn rerun(model: &mut Model, tests: Vec<(Arc<str>, String)>, reason: String, at: Duration, fx: &mut Vec<Effect>) {
    let mut terms = Vec::new();
    let mut docs: Vec<String> = Vec::new();
    for (b, name) in tests {
        match model.catalog.suite(&b) {
            Some(s) if s.suite_type == crate::core::catalog::SuiteType::Doc => {
                if !docs.contains(&s.package) {
                    docs.push(s.package.clone());
                }
            }
            _ => terms.push(format!("(binary_id({b}) & test(={name}))")),
        }
    }
    if !docs.is_empty() {
        model.doc_rerun = docs;
    }
    let expr = if terms.is_empty() {
        "none()".to_owned()
    } else {
        terms.join(" | ")
    };
    request_run(
        model,
        Trigger::Client,
        Selection::Filter {
            expr,
            reasons: vec![reason],
        },
        at,
        fx,
    );
}
