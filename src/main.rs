//! The CLI: parse arguments, discover the workspace, load the config, hand
//! over to the app loop. The only place that exits the process.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use vigil::adapters::{nextest, workspace};
use vigil::app;
use vigil::config::Settings;
use vigil::core::Selection;
use vigil::sink::{Format, Sink};

/// A terminal test monitor for Rust workspaces.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Any directory inside the workspace to open the live view on.
    #[arg(default_value = ".")]
    path: PathBuf,
    /// Open the live view on a small bundled workspace (copied to a
    /// temporary directory, removed on exit).
    #[arg(long)]
    demo: bool,
    /// Config file (default: vigil.toml at the workspace root, if present).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the tests once, headless, and gate on the result (for CI).
    Run(RunArgs),
    /// Watch the workspace and rerun what each change affects.
    Watch(WatchArgs),
    /// The last run and the trends of recent ones, from the history.
    Report(ReportArgs),
    /// Combine the shards of a partitioned run (`vigil run --partition …
    /// --out DIR`) into one result, gate and exit code.
    Merge(MergeArgs),
}

#[derive(Args, Debug)]
struct ReportArgs {
    /// Any directory inside the workspace.
    #[arg(default_value = ".")]
    path: PathBuf,
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// How many recent runs to list.
    #[arg(long, default_value_t = 20)]
    runs: i64,
    /// Write a browsable coverage report of the latest run into DIR.
    #[arg(long, value_name = "DIR")]
    html: Option<PathBuf>,
    /// Write the last run's results as JUnit XML.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Write the last run's Chrome trace (Perfetto, chrome://tracing).
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct WatchArgs {
    /// Any directory inside the workspace.
    #[arg(default_value = ".")]
    path: PathBuf,
    /// Print to stdout instead of opening the live view.
    #[arg(long)]
    no_tui: bool,
    /// Output with --no-tui: human lines or JSON lines.
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// Stop after this many runs (the first, full run included).
    #[arg(long, value_name = "N")]
    max_runs: Option<u32>,
    /// Config file (default: vigil.toml at the workspace root, if present).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct MergeArgs {
    /// The shards' `--out` directories.
    #[arg(required = true, value_name = "DIR")]
    dirs: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// Also write the merged results as JUnit XML.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Also write the merged coverage as LCOV.
    #[arg(long, value_name = "FILE")]
    lcov: Option<PathBuf>,
    /// Config file for the gate's rules (default: vigil.toml in the
    /// current directory's workspace, if any).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct RunArgs {
    /// Any directory inside the workspace.
    #[arg(default_value = ".")]
    path: PathBuf,
    /// Run every test of the workspace (the default without --filter).
    #[arg(long, conflicts_with_all = ["filter", "changed", "since"])]
    all: bool,
    /// Run what changes to these files affect (the watch-mode selection).
    #[arg(long, value_name = "FILE", num_args = 1.., conflicts_with_all = ["filter", "since"])]
    changed: Vec<PathBuf>,
    /// Run what changed since this git revision affects (committed, staged,
    /// unstaged and untracked files).
    #[arg(long, value_name = "REV", conflicts_with = "filter")]
    since: Option<String>,
    /// A nextest filterset expression (`-E` syntax), e.g. 'package(money)'.
    #[arg(long, short = 'E', value_name = "EXPR")]
    filter: Option<String>,
    /// Output: one line per finished test and a summary, or JSON lines.
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// Config file (default: vigil.toml at the workspace root, if present).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Also write the coverage as LCOV (for editors and CI).
    #[arg(long, value_name = "FILE")]
    lcov: Option<PathBuf>,
    /// Run one shard of the suite: nextest's partition (`slice:M/N` or
    /// `hash:M/N`), for CI jobs that split the suite.
    #[arg(long, value_name = "SPEC", requires = "out")]
    partition: Option<String>,
    /// Run from a nextest archive (`cargo nextest archive`) instead of
    /// building.
    #[arg(long, value_name = "FILE", requires = "partition")]
    archive_file: Option<PathBuf>,
    /// Write the shard into DIR (`DIR/events.jsonl`), for `vigil merge`.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Also write the results as JUnit XML (one testsuite per binary).
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Also write a Chrome trace of the run (which tests ran side by side,
    /// on which slot): open it in Perfetto or chrome://tracing.
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
}

/// Exit codes: the gate passed, the gate failed, usage/config/setup error.
const EXIT_PASSED: u8 = 0;
const EXIT_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let mut args = std::env::args_os();
    match args.nth(1) {
        Some(a) if a == "__runner" => return runner(args.collect()),
        Some(a) if a == "__guard" => {
            let argv: Vec<_> = args.collect();
            return ExitCode::from(vigil::adapters::process::guard_main(&argv).clamp(0, 255) as u8);
        }
        _ => {}
    }
    // What vigil starts runs under this binary's `__guard` (see
    // adapters::process): it ends with vigil, also when vigil is killed.
    // On Linux through /proc/self/exe, which still starts this binary
    // after `cargo install` replaced (or a build deleted) its file.
    let own = std::path::Path::new("/proc/self/exe");
    if cfg!(target_os = "linux") && own.exists() {
        vigil::adapters::process::use_guard(own.to_owned());
    } else if let Ok(exe) = std::env::current_exe() {
        vigil::adapters::process::use_guard(exe);
    }
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Run(args)) => run(args),
        Some(Command::Report(args)) => report(args),
        Some(Command::Merge(args)) => merge(args),
        Some(Command::Watch(args)) if args.no_tui => watch_headless(args),
        Some(Command::Watch(args)) => interactive(&args.path, args.config.as_deref(), false),
        None => interactive(&cli.path, cli.config.as_deref(), cli.demo),
    }
}

/// `vigil __runner PROGRAM ARGS…`: nextest's target runner in coverage
/// mode (vigil sets `CARGO_TARGET_<TRIPLE>_RUNNER` to it). A test process
/// (nextest names it in `NEXTEST_BINARY_ID` and `NEXTEST_TEST_NAME`) writes
/// its own profile into the run's directory; anything else (the `--list`
/// calls) runs as it would. Either way the program replaces this process.
fn runner(argv: Vec<std::ffi::OsString>) -> ExitCode {
    use std::os::unix::process::CommandExt;
    let Some((program, rest)) = argv.split_first() else {
        eprintln!("error: vigil __runner: no program to run (vigil uses this as nextest's target runner)");
        return ExitCode::from(EXIT_USAGE);
    };
    let mut cmd = std::process::Command::new(program);
    cmd.args(rest);
    let var = |k: &str| std::env::var(k).ok();
    if let (Some(dir), Some(binary), Some(test)) = (
        var("VIGIL_PROFILE_DIR"),
        var("NEXTEST_BINARY_ID"),
        var("NEXTEST_TEST_NAME"),
    ) {
        let file = vigil::adapters::coverage::test_profile_name(&binary, &test);
        cmd.env("LLVM_PROFILE_FILE", Path::new(&dir).join(&file));
        // What the test reads at run time, through the preloaded tracer:
        // one record per process (a retry is another), beside its profile.
        use vigil::adapters::reads;
        if let (Some(lib), Some(reads_dir)) = (var(reads::LIB), var(reads::DIR)) {
            let record = file
                .replace("%p", &std::process::id().to_string())
                .replace(".profraw", ".reads");
            cmd.env(reads::FILE, Path::new(&reads_dir).join(record));
            cmd.env("LD_PRELOAD", reads::preload(&lib, var("LD_PRELOAD").as_deref()));
        }
    }
    let err = cmd.exec();
    eprintln!(
        "error: vigil __runner: could not start {}: {err}",
        Path::new(program).display()
    );
    ExitCode::from(EXIT_FAILED)
}

/// Files changed since `rev`: committed, staged, unstaged and untracked.
fn git_changes(root: &Path, rev: &str) -> Result<Vec<PathBuf>, String> {
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

fn report(args: ReportArgs) -> ExitCode {
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

fn watch_headless(args: WatchArgs) -> ExitCode {
    let (ws, settings) = match prepare(&args.path, args.config.as_deref(), false) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let mut sink = Sink::stdout(args.format);
    match runtime.block_on(app::watch_headless(ws, settings, &mut sink, args.max_runs)) {
        Err(e) => fail(e),
        Ok(f) => match f.summary {
            Some(s) if s.gate.passed => ExitCode::from(EXIT_PASSED),
            _ => ExitCode::from(EXIT_FAILED),
        },
    }
}

/// `vigil merge DIR…`: the shards' results as one run.
fn merge(args: MergeArgs) -> ExitCode {
    let ws = workspace::discover_members(Path::new(".")).ok();
    let rules = match (&args.config, &ws) {
        (Some(c), _) => match Settings::load(Some(c), Path::new(".")) {
            Ok(s) => s.rules,
            Err(e) => return fail(e),
        },
        (None, Some(ws)) => match Settings::load(None, &ws.root) {
            Ok(s) => s.rules,
            Err(e) => return fail(e),
        },
        (None, None) => Default::default(),
    };
    for f in [&args.junit, &args.lcov].into_iter().flatten() {
        if let Some(ws) = &ws {
            vigil::adapters::outputs::record(&ws.target_dir, f);
        }
    }
    let outputs = app::merge::MergeOutputs {
        junit: args.junit.as_deref(),
        lcov: args.lcov.as_deref(),
    };
    let merged = match app::merge::merge(&args.dirs, &rules, ws.as_ref(), outputs) {
        Ok(m) => m,
        Err(e) => return fail(e),
    };
    for n in &merged.notes {
        eprintln!("warning: {n}");
    }
    let passed = merged.summary.gate.passed;
    let mut sink = Sink::stdout(args.format);
    sink.emit(&vigil::core::report::Report::RunFinished(Box::new(merged.summary)));
    ExitCode::from(if passed { EXIT_PASSED } else { EXIT_FAILED })
}

/// `--junit FILE` and `--trace FILE` from a run's JSON lines.
fn write_results(
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

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| fail(format!("failed to start the async runtime: {e}")))
}

fn interactive(path: &Path, config: Option<&Path>, demo: bool) -> ExitCode {
    use ratatui::crossterm::event::{DisableMouseCapture, EnableMouseCapture};
    use ratatui::crossterm::execute;
    use std::io::IsTerminal;

    let demo = match demo.then(vigil::demo::Demo::create).transpose() {
        Ok(d) => d,
        Err(e) => return fail(format!("failed to create the demo workspace: {e}")),
    };
    let path = demo.as_ref().map_or(path, |d| d.root());
    let (ws, settings) = match prepare(path, config, false) {
        Ok(x) => x,
        Err(code) => return code,
    };
    if !std::io::stdout().is_terminal() {
        return fail("the live view needs a terminal\nhint: for CI and scripts use `vigil run` (headless)");
    }
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let terminal = ratatui::init();
    let _ = execute!(std::io::stdout(), EnableMouseCapture);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = execute!(std::io::stdout(), DisableMouseCapture);
        previous(info);
    }));
    let result = runtime.block_on(async {
        let mut engine = app::Engine::new(ws, settings);
        let note = engine
            .store_note
            .clone()
            .or_else(|| engine.model.workspace.resolve_error.clone());
        if let Some(text) = note {
            engine.apply(vigil::core::Msg::Note { text });
        }
        if let Err(e) = engine.watch() {
            engine.apply(vigil::core::Msg::Note {
                text: format!("{e}; changes will not start runs"),
            });
        }
        engine.request(vigil::core::Trigger::Manual, Selection::All);
        vigil::adapters::terminal::spawn_reader(engine.tx.clone(), engine.clock);
        let mut view = app::Interactive::new(engine, terminal, vigil::ui::theme::Theme::from_env());
        view.real_terminal = true;
        let ran = view.run().await;
        ran.map(|()| view.engine.settle_writes())
    });
    let _ = execute!(std::io::stdout(), DisableMouseCapture);
    ratatui::restore();
    drop(demo);
    match result {
        Ok(not_kept) => {
            if let Some(message) = not_kept {
                eprintln!("warning: {message}");
            }
            ExitCode::from(EXIT_PASSED)
        }
        Err(e) => {
            eprintln!("error: the terminal failed: {e}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(EXIT_USAGE)
}

/// The workspace, the config, and a usable nextest. `graph`: read cargo's
/// resolved graph now (to plan a change set); otherwise only the members,
/// and the graph follows off the hot path where it is needed (watching).
fn prepare(path: &Path, config: Option<&Path>, graph: bool) -> Result<(vigil::core::Workspace, Settings), ExitCode> {
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

fn run(args: RunArgs) -> ExitCode {
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
