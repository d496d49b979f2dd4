//! `vigil check [FILTER]`: every selected test run alone N times, N times
//! with copies of itself at once, with a temp dir of its own, without the
//! network (unit suites), with the clock shifted; judged by
//! `core::check`, said as `check_started` / `check_finished`.

use std::time::Instant;

use crate::adapters::check::{self as proc, CheckTest, Runner, Variant};
use crate::core::check::{judge, CheckSummary, Observed};
use crate::core::report::Report;
use crate::core::Workspace;
use crate::lsp::sites::{Site, Target};

/// What `vigil check` does (`[check]` in the config, the command line).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckOptions {
    pub filter: Option<String>,
    /// Runs alone, and runs with copies at once, each.
    pub runs: usize,
    /// Copies at once.
    pub parallel: usize,
    pub network: bool,
    pub clock: bool,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            filter: None,
            runs: 20,
            parallel: std::thread::available_parallelism().map_or(2, |n| n.get()).max(2),
            network: true,
            clock: true,
        }
    }
}

/// The clock's shifts: years ahead and behind.
pub const SHIFTS: [&str; 2] = ["+3y", "-3y"];

pub fn check(ws: &Workspace, options: &CheckOptions, emit: &mut dyn FnMut(&Report)) -> Result<CheckSummary, String> {
    let started = Instant::now();
    let tests = proc::list(ws, options.filter.as_deref())?;
    let dir = crate::adapters::state_dir(&ws.target_dir).join("check");
    let _ = std::fs::remove_dir_all(&dir);
    let mut runner = Runner::new(dir.clone(), &ws.target_dir)?;
    proc::become_subreaper();
    let mut skipped = Vec::new();
    let network = options.network
        && match proc::namespaces() {
            Ok(()) => true,
            Err(e) => {
                skipped.push(format!("network: {e}; the network check is skipped"));
                false
            }
        };
    let clock = options.clock
        && match &runner.faketime {
            Some(_) => true,
            None => {
                skipped.push(
                    "clock: libfaketime is not installed (Debian: apt-get install faketime); the clock check is skipped"
                        .into(),
                );
                false
            }
        };
    let mut checks = vec![
        "race".to_owned(),
        "state".into(),
        "nondeterministic".into(),
        "leaks".into(),
    ];
    if network {
        checks.push("network".into());
    }
    if clock {
        checks.push("clock".into());
    }
    emit(&Report::CheckStarted {
        tests: tests.len(),
        runs: options.runs,
        parallel: options.parallel,
        checks,
    });
    let mut summary = CheckSummary {
        skipped,
        ..Default::default()
    };
    let mut seen: Vec<Observed> = tests
        .iter()
        .map(|_| Observed {
            parallel: options.parallel,
            ..Default::default()
        })
        .collect();
    // Different tests run side by side (as nextest runs them), `parallel`
    // at a time; a test's own runs never overlap except when copies are
    // the point.
    let width = options.parallel.max(1);
    let indices: Vec<usize> = (0..tests.len()).collect();
    for chunk in indices.chunks(width) {
        alone(&mut runner, &tests, chunk, options.runs, &mut seen);
        if network {
            let unit: Vec<usize> = chunk.iter().copied().filter(|&i| tests[i].unit).collect();
            let jobs: Vec<(&CheckTest, Variant)> = unit.iter().map(|&i| (&tests[i], Variant::Network)).collect();
            for (&i, a) in unit.iter().zip(runner.run_all(&jobs)) {
                seen[i].network = Some(a);
            }
        }
        if clock {
            for shift in SHIFTS {
                let jobs: Vec<(&CheckTest, Variant)> = chunk
                    .iter()
                    .map(|&i| (&tests[i], Variant::Clock(shift.into())))
                    .collect();
                for (&i, a) in chunk.iter().zip(runner.run_all(&jobs)) {
                    seen[i].clock.push((shift.into(), a));
                }
            }
        }
        stop_strays();
    }
    // Failures among runs side by side that are not state left behind:
    // the test runs alone again, one at a time, so that failing beside
    // other tests (a race) is told from failing anyway (nondeterminism).
    for (i, t) in tests.iter().enumerate() {
        let s = &mut seen[i];
        let failed = s.alone.iter().filter(|a| !a.passed).count();
        let fails = s.alone.first().is_some_and(|a| !a.passed) && failed == s.alone.len();
        if failed == 0 || fails || crate::core::check::left_state(&s.alone) {
            continue;
        }
        // The first (temp dir) run stays first: it is where leaks were seen.
        let first = s.alone.remove(0);
        s.beside = std::mem::replace(&mut s.alone, vec![first]);
        for _ in 1..options.runs {
            s.alone.extend(runner.run_all(&[(t, Variant::Plain)]));
        }
    }
    // Copies at once: one test at a time.
    for (i, t) in tests.iter().enumerate() {
        let mut left = options.runs;
        while left > 0 {
            let n = left.min(width);
            let jobs: Vec<(&CheckTest, Variant)> = (0..n).map(|_| (t, Variant::Plain)).collect();
            seen[i].together.extend(runner.run_all(&jobs));
            left -= n;
        }
        stop_strays();
    }
    // The seed's record: each test's assertions, markers and fixtures,
    // from its source.
    let mut sources: std::collections::HashMap<std::path::PathBuf, Vec<(Target, Site)>> = Default::default();
    for (t, s) in tests.iter().zip(&seen) {
        let (findings, mut record) = judge(&t.binary_id, &t.name, s);
        let sites = sources
            .entry(t.cwd.clone())
            .or_insert_with(|| crate::lsp::sites::package_tests(&t.cwd));
        if let Some((_, site)) = sites
            .iter()
            .find(|(target, site)| site.name == t.name && target.holds(&t.package, &t.binary_id))
        {
            record.assertions = Some(site.assertions);
            record.markers = site.markers.clone();
            record.fixtures = site.fixtures.clone();
        }
        summary.findings.extend(findings);
        summary.tests.push(record);
    }
    let _ = std::fs::remove_dir_all(&dir);
    summary.clean = summary.findings.is_empty();
    summary.duration_s = started.elapsed().as_secs_f64();
    emit(&Report::CheckFinished(Box::new(summary.clone())));
    Ok(summary)
}

/// The runs alone of a few tests side by side: first once each with a
/// temp dir (and session) of its own — what it leaves there and running —
/// then `runs - 1` more, one after another, in its working directory.
fn alone(runner: &mut Runner, tests: &[CheckTest], chunk: &[usize], runs: usize, seen: &mut [Observed]) {
    let dirs: Vec<std::path::PathBuf> = chunk.iter().map(|i| runner.dir.join(format!("tmp-{i}"))).collect();
    for d in &dirs {
        let _ = std::fs::create_dir_all(d);
    }
    let before: Vec<i32> = proc::orphans().into_iter().map(|o| o.pid).collect();
    let jobs: Vec<(&CheckTest, Variant)> = chunk
        .iter()
        .zip(&dirs)
        .map(|(&i, d)| (&tests[i], Variant::Tmpdir(d.clone())))
        .collect();
    let first = runner.run_all(&jobs);
    // A child started in the background may need a moment to be
    // reparented here once the test has exited.
    std::thread::sleep(std::time::Duration::from_millis(50));
    let left: Vec<proc::Orphan> = proc::orphans()
        .into_iter()
        .filter(|o| !before.contains(&o.pid))
        .collect();
    for ((&i, d), a) in chunk.iter().zip(&dirs).zip(first) {
        seen[i].leaked_processes = left
            .iter()
            .filter(|o| o.session as u32 == a.pid)
            .map(|o| format!("`{}` (pid {})", o.name, o.pid))
            .collect();
        seen[i].leaked_files = proc::files_under(d);
        let _ = std::fs::remove_dir_all(d);
        seen[i].alone.push(a);
    }
    for _ in 1..runs {
        let jobs: Vec<(&CheckTest, Variant)> = chunk.iter().map(|&i| (&tests[i], Variant::Plain)).collect();
        for (&i, a) in chunk.iter().zip(runner.run_all(&jobs)) {
            seen[i].alone.push(a);
        }
    }
}

/// Whatever the tests left running is stopped before the next ones run.
fn stop_strays() {
    let stray: Vec<i32> = proc::orphans().into_iter().map(|o| o.pid).collect();
    proc::stop(&stray);
}
