//! `vigil check [FILTER]`: every selected test run alone N times, N times
//! with copies of itself at once, with a temp dir of its own, without the
//! network (unit suites), with the clock shifted; judged by
//! `core::check`, said as `check_started` / `check_finished`.

use std::time::Instant;

use crate::adapters::check::{self as proc, CheckTest, Runner, Variant};
use crate::core::check::{judge, CheckSummary, Observed};
use crate::core::report::Report;
use crate::core::Workspace;

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
    for (i, t) in tests.iter().enumerate() {
        let seen = observe(&mut runner, t, i, options, network, clock);
        let (findings, record) = judge(&t.binary_id, &t.name, &seen);
        summary.findings.extend(findings);
        summary.tests.push(record);
    }
    let _ = std::fs::remove_dir_all(&dir);
    summary.clean = summary.findings.is_empty();
    summary.duration_s = started.elapsed().as_secs_f64();
    emit(&Report::CheckFinished(Box::new(summary.clone())));
    Ok(summary)
}

fn observe(runner: &mut Runner, t: &CheckTest, i: usize, o: &CheckOptions, network: bool, clock: bool) -> Observed {
    let mut seen = Observed {
        parallel: o.parallel,
        ..Default::default()
    };
    // Once with a temp dir of its own, alone: what it leaves there, and
    // the processes it leaves running.
    let tmp = runner.dir.join(format!("tmp-{i}"));
    let _ = std::fs::create_dir_all(&tmp);
    let before: Vec<i32> = proc::orphans().into_iter().map(|(p, _)| p).collect();
    // It is the first of its runs in a row in its working directory.
    seen.alone.extend(runner.run_all(&[(t, Variant::Tmpdir(tmp.clone()))]));
    // A child it started in the background may need a moment to be
    // reparented here once the test has exited.
    std::thread::sleep(std::time::Duration::from_millis(50));
    let left: Vec<(i32, String)> = proc::orphans()
        .into_iter()
        .filter(|(p, _)| !before.contains(p))
        .collect();
    seen.leaked_processes = left.iter().map(|(p, n)| format!("`{n}` (pid {p})")).collect();
    seen.leaked_files = proc::files_under(&tmp);
    let _ = std::fs::remove_dir_all(&tmp);
    // Alone, one after another, in its working directory.
    for _ in 1..o.runs {
        seen.alone.extend(runner.run_all(&[(t, Variant::Plain)]));
    }
    // Copies at once.
    let mut left_to_run = o.runs;
    while left_to_run > 0 {
        let n = left_to_run.min(o.parallel.max(1));
        let jobs: Vec<(&CheckTest, Variant)> = (0..n).map(|_| (t, Variant::Plain)).collect();
        seen.together.extend(runner.run_all(&jobs));
        left_to_run -= n;
    }
    if network && t.unit {
        seen.network = runner.run_all(&[(t, Variant::Network)]).pop();
    }
    if clock {
        for shift in SHIFTS {
            if let Some(a) = runner.run_all(&[(t, Variant::Clock(shift.into()))]).pop() {
                seen.clock.push((shift.into(), a));
            }
        }
    }
    // Whatever it left running is stopped before the next test runs.
    let stray: Vec<i32> = proc::orphans().into_iter().map(|(p, _)| p).collect();
    proc::stop(&stray);
    seen
}
