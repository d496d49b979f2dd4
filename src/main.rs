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
}

#[derive(Args, Debug)]
struct RunArgs {
    /// Any directory inside the workspace.
    #[arg(default_value = ".")]
    path: PathBuf,
    /// Run every test of the workspace (the default without --filter).
    #[arg(long, conflicts_with = "filter")]
    all: bool,
    /// A nextest filterset expression (`-E` syntax), e.g. 'package(money)'.
    #[arg(long, short = 'E', value_name = "EXPR")]
    filter: Option<String>,
    /// Output: one line per finished test and a summary, or JSON lines.
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// Config file (default: vigil.toml at the workspace root, if present).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// Exit codes: the gate passed, the gate failed, usage/config/setup error.
const EXIT_PASSED: u8 = 0;
const EXIT_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Run(args)) => run(args),
        None => interactive(&cli.path, cli.config.as_deref(), cli.demo),
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
    let (ws, settings) = match prepare(path, config) {
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
        let engine = app::Engine::new(ws, settings);
        engine.request(vigil::core::Trigger::Manual, Selection::All);
        vigil::adapters::terminal::spawn_reader(engine.tx.clone(), engine.clock);
        let mut view = app::Interactive::new(engine, terminal, vigil::ui::theme::Theme::from_env());
        view.run().await
    });
    let _ = execute!(std::io::stdout(), DisableMouseCapture);
    ratatui::restore();
    drop(demo);
    match result {
        Ok(()) => ExitCode::from(EXIT_PASSED),
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

fn prepare(path: &Path, config: Option<&Path>) -> Result<(vigil::core::Workspace, Settings), ExitCode> {
    let ws = workspace::discover(path).map_err(fail)?;
    let settings = Settings::load(config, &ws.root).map_err(fail)?;
    nextest::check_version(&ws.root).map_err(fail)?;
    Ok((ws, settings))
}

fn run(args: RunArgs) -> ExitCode {
    let (ws, settings) = match prepare(&args.path, args.config.as_deref()) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let selection = match args.filter {
        Some(expr) => Selection::Filter {
            reasons: vec![format!("--filter {expr}")],
            expr,
        },
        None => Selection::All,
    };
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let mut sink = Sink::stdout(args.format);
    let finished = runtime.block_on(app::run_once(ws, settings, selection, &mut sink));
    match finished.summary {
        _ if finished.bad_filter => ExitCode::from(EXIT_USAGE),
        Some(s) if s.gate.passed => ExitCode::from(EXIT_PASSED),
        _ => ExitCode::from(EXIT_FAILED),
    }
}
