//! `vigil report`: the last run, the history, coverage, and the files a run
//! left (JUnit, trace, LCOV, HTML), read back without running anything.

use super::*;

pub(super) fn report(args: ReportArgs) -> ExitCode {
    use vigil::adapters::store::{default_path, Store};
    let ws = match workspace::discover(&args.path) {
        Ok(ws) => ws,
        Err(e) => return fail(e),
    };
    if let Some(dir) = &args.html {
        let lcov_path = vigil::adapters::state_dir(&ws.target_dir).join("coverage/latest.lcov");
        let Ok(text) = std::fs::read_to_string(&lcov_path) else {
            return fail(format!(
                "no coverage yet at {}\nhint: run `vigil run` with coverage on (usable LLVM tools) first",
                lcov_path.display()
            ));
        };
        let cov = vigil::adapters::lcov::parse(&text, &ws.root);
        vigil::adapters::outputs::record(&ws.target_dir, dir);
        return match vigil::adapters::html::write(&cov, &ws.root, dir) {
            Ok(n) => {
                println!("wrote {} ({n} files)", dir.join("index.html").display());
                ExitCode::from(EXIT_PASSED)
            }
            Err(e) => fail(format!("failed to write the report into {}: {e}", dir.display())),
        };
    }
    if args.junit.is_some() || args.trace.is_some() {
        let path = app::last_run_path(&ws.target_dir);
        let Ok(lines) = std::fs::read_to_string(&path) else {
            return fail(format!(
                "no finished run kept at {}\nhint: `vigil run` or `vigil` keeps the last one",
                path.display()
            ));
        };
        let rules = match Settings::load(None, &ws.root) {
            Ok(s) => s.rules,
            Err(e) => return fail(e),
        };
        return match write_results(&lines, &rules, args.junit.as_deref(), args.trace.as_deref()) {
            Ok(()) => ExitCode::from(EXIT_PASSED),
            Err(e) => fail(e),
        };
    }
    let path = default_path(&ws.target_dir);
    if !path.exists() {
        return fail(format!(
            "no history yet at {}\nhint: `vigil run` or `vigil` records every run",
            path.display()
        ));
    }
    let (store, note) = match Store::open(&path) {
        Ok(x) => x,
        Err(e) => return fail(e),
    };
    if let Some(note) = note {
        eprintln!("warning: {note}");
    }
    let (runs, history) = match (store.recent_runs(args.runs), store.history()) {
        (Ok(r), Ok(h)) => (r, h),
        (Err(e), _) | (_, Err(e)) => return fail(e),
    };
    let last = runs.last().cloned();
    let failed = last
        .as_ref()
        .map(|r| store.failed_in(r.id).unwrap_or_default())
        .unwrap_or_default();
    let mut tests: Vec<serde_json::Value> = history
        .tests
        .iter()
        .filter(|(_, h)| !h.durations.is_empty())
        .map(|((b, n), h)| {
            serde_json::json!({
                "binary_id": b, "name": n,
                "p50_s": h.p50(), "p95_s": h.p95(),
                "samples": h.durations.len(), "flips": h.flips,
            })
        })
        .collect();
    tests.sort_by(|a, b| {
        b["p95_s"]
            .as_f64()
            .partial_cmp(&a["p95_s"].as_f64())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let flaky = history.flaky();
    match args.format {
        Format::Json => {
            let out = serde_json::json!({
                "last_run": last.as_ref().map(|r| serde_json::json!({"run": r, "failed": failed.iter().map(|(b, n)| serde_json::json!({"binary_id": b, "name": n})).collect::<Vec<_>>()})),
                "runs": runs, "tests": tests, "flaky": flaky,
            });
            println!("{out}");
        }
        Format::Human => {
            println!("history: {}", path.display());
            if let Some(r) = &last {
                println!(
                    "last run: #{} ({}) {} · {} passed, {} failed of {} in {:.2}s",
                    r.id,
                    r.trigger.as_str(),
                    r.outcome.as_str(),
                    r.passed,
                    r.failed,
                    r.total,
                    r.duration_s
                );
                for (b, n) in &failed {
                    println!("  failed: {b} {n}");
                }
            }
            println!("recent runs:");
            for r in &runs {
                println!(
                    "  #{:<5} {:<7} {:<13} {:>5} tests {:>4} failed {:>8.2}s",
                    r.id,
                    r.trigger.as_str(),
                    r.outcome.as_str(),
                    r.total,
                    r.failed,
                    r.duration_s
                );
            }
            println!("slowest tests (p50 / p95 over their recent passing runs):");
            for t in tests.iter().take(10) {
                println!(
                    "  {:>8.3}s / {:>8.3}s  {} {}",
                    t["p50_s"].as_f64().unwrap_or_default(),
                    t["p95_s"].as_f64().unwrap_or_default(),
                    t["binary_id"].as_str().unwrap_or_default(),
                    t["name"].as_str().unwrap_or_default()
                );
            }
            if !flaky.is_empty() {
                println!("flaky (result flipped on an unchanged tree):");
                for f in &flaky {
                    println!("  {} {}  {} flips in {} runs", f.binary_id, f.name, f.flips, f.runs);
                }
            }
        }
    }
    ExitCode::from(EXIT_PASSED)
}

/// `--junit FILE` and `--trace FILE` from a run's JSON lines.
pub(super) fn write_results(
    lines: &str,
    rules: &vigil::core::model::Rules,
    junit: Option<&Path>,
    trace: Option<&Path>,
) -> Result<(), String> {
    use vigil::adapters::stream;
    if junit.is_none() && trace.is_none() {
        return Ok(());
    }
    let results = stream::read(lines)?;
    let write = |path: &Path, text: String| {
        std::fs::write(path, text).map_err(|e| format!("failed to write {}: {e}", path.display()))
    };
    if let Some(path) = junit {
        write(path, stream::junit(&results, rules))?;
    }
    if let Some(path) = trace {
        write(path, stream::trace(&results))?;
    }
    Ok(())
}
