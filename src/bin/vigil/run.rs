//! `vigil run`: one run for CI, from the workspace found and the config
//! loaded to the exit code its gate gives; the change set of `--changed`
//! and `--since`.

use super::*;

pub(super) fn run(args: RunArgs) -> ExitCode {
    let plans_changes = args.since.is_some() || !args.changed.is_empty();
    let (mut ws, mut settings) = match prepare(&args.path, args.config.as_deref(), plans_changes) {
        Ok(x) => x,
        Err(code) => return code,
    };
    if plans_changes {
        // A changed manifest is placed by what changed in it: since `--since
        // REV`, or since a vigil here last read it.
        // (At a revision, the targets then are not known: a manifest that
        // spells out its targets runs everything.)
        let (texts, targets) = match &args.since {
            Some(rev) => (workspace::manifests_at(&ws, rev), Some(Default::default())),
            None => workspace::kept_manifests(&ws),
        };
        workspace::keep_manifests(&ws);
        ws.manifests = texts;
        ws.targets_before = targets.or(Some(Default::default()));
    }
    if let Err(e) = settings.apply_faults(&args.fault, args.calls) {
        return fail(e);
    }
    if args.faults_matrix {
        return matrix(ws, settings, args.filter.as_deref(), args.format);
    }
    // `--since REV` is also the base patch coverage is measured against.
    if let (Some(rev), None) = (&args.since, &settings.coverage_base) {
        settings.coverage_base = Some(rev.clone());
    }
    let selection = if let Some(expr) = args.filter {
        Selection::Filter {
            reasons: vec![format!("--filter {expr}")],
            expr,
        }
    } else if let Some(rev) = &args.since {
        match git_changes(&ws.root, rev) {
            Ok(files) => Selection::Changed { files },
            Err(e) => return fail(e),
        }
    } else if !args.changed.is_empty() {
        let cwd = std::env::current_dir().unwrap_or_default();
        let files = args
            .changed
            .iter()
            .map(|f| std::path::absolute(cwd.join(f)).unwrap_or_else(|_| cwd.join(f)))
            .collect();
        Selection::Changed { files }
    } else {
        Selection::All
    };
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    if let Some(lcov) = &args.lcov {
        vigil::adapters::outputs::record(&ws.target_dir, lcov);
    }
    let mut sink = Sink::stdout(args.format);
    let rules = settings.rules.clone();
    for f in [&args.junit, &args.trace].into_iter().flatten() {
        vigil::adapters::outputs::record(&ws.target_dir, f);
    }
    let shard = args
        .partition
        .clone()
        .zip(args.out.clone())
        .map(|(p, out)| (p, args.archive_file.clone(), out));
    let finished = runtime.block_on(app::run_once(
        ws,
        settings,
        selection,
        &mut sink,
        args.lcov.as_deref(),
        shard,
    ));
    if let Some(e) = &finished.lcov_error {
        eprintln!("error: {e}");
        return ExitCode::from(EXIT_FAILED);
    }
    if let Some(lines) = &finished.last_run {
        if let Err(e) = write_results(lines, &rules, args.junit.as_deref(), args.trace.as_deref()) {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    }
    if let Some(e) = &finished.shard_error {
        eprintln!("error: {e}");
        return ExitCode::from(EXIT_FAILED);
    }
    match finished.summary {
        _ if finished.bad_filter => ExitCode::from(EXIT_USAGE),
        Some(s) if s.gate.passed => ExitCode::from(EXIT_PASSED),
        None if finished.nothing_selected => ExitCode::from(EXIT_PASSED),
        _ => ExitCode::from(EXIT_FAILED),
    }
}

/// The workspace, the config, and a usable nextest. `graph`: read cargo's
/// resolved graph now (to plan a change set); otherwise only the members,
/// and the graph follows off the hot path where it is needed (watching).
pub(super) fn prepare(
    path: &Path,
    config: Option<&Path>,
    graph: bool,
) -> Result<(vigil::core::Workspace, Settings), ExitCode> {
    // `cargo nextest --version` and `cargo metadata` side by side: both are
    // fixed costs of every `vigil run`.
    let dir = path.to_owned();
    let version = std::thread::spawn(move || nextest::check_version(&dir));
    let ws = if graph {
        workspace::discover(path)
    } else {
        workspace::discover_members(path)
    };
    let version = version
        .join()
        .unwrap_or_else(|_| Err(nextest::NextestError::UnknownVersion("the check panicked".into())));
    let ws = ws.map_err(fail)?;
    let settings = Settings::load(config, &ws.root).map_err(fail)?;
    version.map_err(fail)?;
    if !graph {
        // What a later `vigil run --changed Cargo.toml` is compared with.
        workspace::keep_manifests(&ws);
    }
    Ok((ws, settings))
}

/// Files changed since `rev`: committed, staged, unstaged and untracked.
pub(super) fn git_changes(root: &Path, rev: &str) -> Result<Vec<PathBuf>, String> {
    let git = |args: &[&str]| vigil::adapters::git::git(root, args).map_err(|e| e.to_string());
    let top = PathBuf::from(git(&["rev-parse", "--show-toplevel"])?.trim());
    let diff = git(&["diff", "--name-only", rev, "--"])?;
    // `--full-name`: relative to the repository top, like `diff`'s names,
    // also when the workspace is a subdirectory of the repository.
    let untracked = git(&["ls-files", "--others", "--exclude-standard", "--full-name"])?;
    let mut files: Vec<PathBuf> = diff.lines().chain(untracked.lines()).map(|l| top.join(l)).collect();
    files.sort();
    files.dedup();
    Ok(files)
}

/// `vigil run --faults-matrix`: the gated tests once without a fault, then
/// once per configured fault (each refused one said, not run).
fn matrix(ws: vigil::core::Workspace, settings: Settings, filter: Option<&str>, format: Format) -> ExitCode {
    use vigil::core::faults::Matrix;
    let proxied: Vec<_> = settings.rules.services.iter().filter(|s| s.proxy.is_some()).collect();
    if proxied.iter().all(|s| s.faults.is_empty()) {
        return fail("--faults-matrix: no service has a `proxy` with `faults = [...]` to run");
    }
    let gated = proxied
        .iter()
        .map(|s| format!("({})", s.needed_by))
        .collect::<Vec<_>>()
        .join(" | ");
    let expr = match filter {
        Some(f) => format!("({gated}) & ({f})"),
        None => gated,
    };
    let mut columns: Vec<(String, Option<(String, vigil::core::faults::Fault)>)> = vec![("none".into(), None)];
    for s in &proxied {
        for f in &s.faults {
            columns.push((format!("{}={}", s.name, f.label()), Some((s.name.clone(), f.clone()))));
        }
    }
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let budgets = settings.rules.budgets.clone();
    let slow = settings
        .rules
        .slow_timeout
        .unwrap_or(std::time::Duration::from_secs(60));
    let limit = |b: &str, n: &str| Some(budgets.test_limit(b, n).unwrap_or(slow).as_secs_f64());
    let mut m = Matrix::default();
    for (label, fault) in columns {
        let mut s = settings.clone();
        s.rules.faults.clear();
        if let Some((service, fault)) = &fault {
            // The refusal rule of `--fault`, so the matrix never hangs a suite.
            if let Some(why) = s.fault_refusal(service, fault) {
                m.refused.push((label, why));
                continue;
            }
            s.rules.faults = vec![(service.clone(), fault.clone())];
        }
        eprintln!("faults matrix: running with {label}");
        let selection = Selection::Filter {
            reasons: vec![format!("faults matrix: {label}")],
            expr: expr.clone(),
        };
        let mut quiet = Sink::new(std::io::sink(), Format::Json, false);
        let finished = runtime.block_on(app::run_once(ws.clone(), s, selection, &mut quiet, None, None));
        let mut last: std::collections::BTreeMap<(String, String), (String, Option<f64>)> = Default::default();
        for line in finished.last_run.as_deref().unwrap_or("").lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            if v["event"] != "test" || v["to"] == "running" || v["to"] == "pending" {
                continue;
            }
            let key = (
                v["binary_id"].as_str().unwrap_or("").to_owned(),
                v["name"].as_str().unwrap_or("").to_owned(),
            );
            last.insert(
                key,
                (v["to"].as_str().unwrap_or("").to_owned(), v["duration_s"].as_f64()),
            );
        }
        let results: Vec<_> = last.into_iter().map(|((b, n), (s, d))| (b, n, s, d)).collect();
        m.add(&label, &results, limit);
    }
    let json =
        serde_json::json!({"event": "faults_matrix", "faults": m.faults, "refused": m.refused, "tests": m.tests});
    let keep = vigil::adapters::state_dir(&ws.target_dir).join("faults-matrix.json");
    if let Err(e) = std::fs::create_dir_all(keep.parent().unwrap_or(&ws.target_dir))
        .and_then(|_| std::fs::write(&keep, format!("{json}\n")))
    {
        eprintln!("warning: the matrix could not be kept in {}: {e}", keep.display());
    }
    match format {
        Format::Json => println!("{json}"),
        Format::Human => print!("{}", m.table()),
    }
    // The matrix is a report: it fails only when the tests fail without a fault.
    let baseline_holds = m
        .tests
        .iter()
        .all(|r| r.results.first().is_none_or(|v| v != "fails" && v != "hangs"));
    ExitCode::from(if baseline_holds { EXIT_PASSED } else { EXIT_FAILED })
}
