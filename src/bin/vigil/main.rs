//! The CLI: parse arguments, discover the workspace, load the config, hand
//! over to the app loop. The only place that exits the process. `args` is
//! the command line, `run` and `report` the commands with most to do; the
//! others are here.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use vigil::adapters::{nextest, workspace};
use vigil::app;
use vigil::config::Settings;
use vigil::core::Selection;
use vigil::sink::{Format, Sink};

mod args;
mod client;
mod report;
mod run;

use args::*;
use client::*;
use report::*;
use run::*;

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
        Some(Command::Send(args)) => send(args),
        Some(Command::Status(args)) => status(args),
        Some(Command::Lsp(args)) => lsp(args),
        Some(Command::Check(args)) => check(args),
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
        // The build's tracing is not the test's (a test that builds a
        // crate of its own is no build of vigil's).
        cmd.env_remove(reads::BUILD);
        if let (Some(lib), Some(reads_dir)) = (var(reads::LIB), var(reads::DIR)) {
            // One file the run's tests share, each process's lines tagged
            // (making a file per test cost more than its lines).
            let record = file
                .replace("%p", &std::process::id().to_string())
                .replace(".profraw", "");
            cmd.env(reads::FILE, Path::new(&reads_dir).join(reads::SHARED));
            cmd.env(reads::TAG, record);
            cmd.env("LD_PRELOAD", reads::preload(&lib, var("LD_PRELOAD").as_deref()));
        }
        // Resident, unless told to step aside: what the test leaves running
        // is seen (`VIGIL_RUNNER_EXEC=1`: exec, as before, for comparison).
        if cfg!(target_os = "linux") && var("VIGIL_RUNNER_EXEC").is_none() {
            return resident(cmd, Path::new(&dir), &binary, &test);
        }
    }
    let err = cmd.exec();
    eprintln!(
        "error: vigil __runner: could not start {}: {err}",
        Path::new(program).display()
    );
    ExitCode::from(EXIT_FAILED)
}

/// The test process whose signals the resident runner passes on.
static CHILD: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn pass_on(signal: libc::c_int) {
    let pid = CHILD.load(std::sync::atomic::Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

/// The runner stays: it starts the test as its child, is the subreaper of
/// what the test starts, passes signals on, and ends as the test ended.
/// What the test left running is written down beside the profile, and
/// left to run until the run ends (vigil stops it then: a suite may start
/// a shared daemon on purpose).
fn resident(mut cmd: std::process::Command, dir: &Path, binary: &str, test: &str) -> ExitCode {
    use std::os::unix::process::ExitStatusExt;
    // SAFETY: prctl and signal with these arguments only set this process's
    // own flags and handlers; the handler only calls kill.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        for s in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT] {
            libc::signal(s, pass_on as extern "C" fn(libc::c_int) as libc::sighandler_t);
        }
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: vigil __runner: could not start the test: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    CHILD.store(child.id() as i32, std::sync::atomic::Ordering::Relaxed);
    let status = match child.wait() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: vigil __runner: could not wait for the test: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let left = vigil::adapters::check::orphans();
    if !left.is_empty() {
        if let Err(e) = vigil::adapters::check::write_leaks(dir, binary, test, &left) {
            eprintln!("warning: vigil __runner: what the test left running was not written down: {e}");
        }
    }
    match (status.code(), status.signal()) {
        (Some(code), _) => ExitCode::from(code.clamp(0, 255) as u8),
        (None, Some(signal)) => {
            // Ended by a signal: so does the runner, for nextest to see.
            // SAFETY: restoring the default action and raising the signal.
            unsafe {
                libc::signal(signal, libc::SIG_DFL);
                libc::raise(signal);
            }
            ExitCode::from((128 + signal).clamp(0, 255) as u8)
        }
        (None, None) => ExitCode::from(EXIT_FAILED),
    }
}

fn watch_headless(args: WatchArgs) -> ExitCode {
    let (ws, mut settings) = match prepare(&args.path, args.config.as_deref(), false) {
        Ok(x) => x,
        Err(code) => return code,
    };
    if let Err(e) = settings.apply_faults(&args.fault, args.calls) {
        return fail(e);
    }
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

/// `vigil check`: 0 when it ran (1 with `--strict` and findings), 2 when
/// it could not.
fn check(args: CheckArgs) -> ExitCode {
    let (ws, settings) = match prepare(&args.workspace, args.config.as_deref(), false) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let defaults = app::check::CheckOptions::default();
    let options = app::check::CheckOptions {
        filter: args.filter.clone(),
        runs: args.runs.or(settings.check_runs).unwrap_or(defaults.runs).max(1),
        parallel: args
            .parallel
            .or(settings.check_parallel)
            .unwrap_or(defaults.parallel)
            .max(1),
        network: settings.check_network && !args.no_network,
        clock: settings.check_clock && !args.no_clock,
    };
    let mut sink = Sink::stdout(args.format);
    let result = app::check::check(&ws, &options, &mut |r| sink.emit(r));
    if let Ok(summary) = &result {
        // Kept per test: a test found racy stays marked until a check passes it.
        let path = vigil::adapters::store::default_path(&ws.target_dir);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let kept = vigil::adapters::store::Store::open(&path)
            .map_err(|e| e.to_string())
            .and_then(|(mut store, _)| store.record_check(summary, now).map_err(|e| e.to_string()));
        if let Err(e) = kept {
            eprintln!("warning: the check's findings were not kept in the history: {e}");
        }
    }
    match result {
        Ok(summary) if args.strict && !summary.clean => ExitCode::from(EXIT_FAILED),
        Ok(_) => ExitCode::from(EXIT_PASSED),
        Err(e) => fail(e),
    }
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
        if let Some(text) = engine.serve_note.clone() {
            engine.apply(vigil::core::Msg::Note { text });
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
