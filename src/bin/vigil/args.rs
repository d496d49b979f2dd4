//! The command line as clap reads it: the subcommands and their options.

use super::*;

/// A terminal test monitor for Rust workspaces.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None)]
pub(super) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
    /// Any directory inside the workspace to open the live view on.
    #[arg(default_value = ".")]
    pub(crate) path: PathBuf,
    /// Open the live view on a small bundled workspace (copied to a
    /// temporary directory, removed on exit).
    #[arg(long)]
    pub(crate) demo: bool,
    /// Config file (default: vigil.toml at the workspace root, if present).
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub(super) enum Command {
    /// Run the tests once, headless, and gate on the result (for CI).
    Run(RunArgs),
    /// Watch the workspace and rerun what each change affects.
    Watch(WatchArgs),
    /// The last run and the trends of recent ones, from the history.
    Report(ReportArgs),
    /// Combine the shards of a partitioned run (`vigil run --partition …
    /// --out DIR`) into one result, gate and exit code.
    Merge(MergeArgs),
    /// Send one command to the workspace's running vigil (the live view,
    /// `vigil watch`, or the engine `vigil lsp` started): run-all,
    /// rerun-failed, rerun [BINARY_ID] NAME, run-changed FILE…, cancel,
    /// ack-misses, accept-snapshot [BINARY_ID] NAME, open [BINARY_ID] NAME.
    Send(SendArgs),
    /// One line for shell prompts and status bars: the workspace's running
    /// vigil's results, coverage and run (or the last run kept).
    Status(StatusArgs),
    /// Audit tests: races (copies at once), state left behind, the clock,
    /// the network, leaked files and processes, nondeterminism.
    Check(CheckArgs),
    /// A language server on stdio: failing tests, budgets and patch
    /// coverage as diagnostics, code lenses on tests, "reached by" on hover.
    Lsp(LspArgs),
}

#[derive(Args, Debug)]
pub(super) struct SendArgs {
    /// The command and its arguments.
    #[arg(required = true, value_name = "COMMAND", num_args = 1.., trailing_var_arg = true)]
    pub(crate) command: Vec<String>,
    /// Any directory inside the workspace.
    #[arg(long, short = 'C', value_name = "DIR", default_value = ".")]
    pub(crate) workspace: PathBuf,
}

#[derive(Args, Debug)]
pub(super) struct StatusArgs {
    /// Any directory inside the workspace.
    #[arg(default_value = ".")]
    pub(crate) path: PathBuf,
    #[arg(long, value_enum, default_value = "human")]
    pub(crate) format: Format,
}

#[derive(Args, Debug)]
pub(super) struct CheckArgs {
    /// A nextest filterset of the tests to audit (default: every test).
    #[arg(value_name = "FILTER")]
    pub(crate) filter: Option<String>,
    /// Any directory inside the workspace.
    #[arg(long, short = 'C', value_name = "DIR", default_value = ".")]
    pub(crate) workspace: PathBuf,
    /// Runs alone, and runs with copies at once, each (default 20).
    #[arg(long, value_name = "N")]
    pub(crate) runs: Option<usize>,
    /// Copies at once (default: the number of cores).
    #[arg(long, value_name = "P")]
    pub(crate) parallel: Option<usize>,
    /// Skip the network check.
    #[arg(long)]
    pub(crate) no_network: bool,
    /// Skip the clock check.
    #[arg(long)]
    pub(crate) no_clock: bool,
    /// Exit 1 when anything is found (for CI).
    #[arg(long)]
    pub(crate) strict: bool,
    #[arg(long, value_enum, default_value = "human")]
    pub(crate) format: Format,
    /// Config file (default: vigil.toml at the workspace root, if present).
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub(super) struct LspArgs {
    /// Any directory inside the workspace (default: the editor's root, or
    /// the current directory).
    #[arg(long, value_name = "DIR")]
    pub(crate) workspace: Option<PathBuf>,
    /// Config file for the engine it starts when none runs.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub(super) struct ReportArgs {
    /// Any directory inside the workspace.
    #[arg(default_value = ".")]
    pub(crate) path: PathBuf,
    #[arg(long, value_enum, default_value = "human")]
    pub(crate) format: Format,
    /// How many recent runs to list.
    #[arg(long, default_value_t = 20)]
    pub(crate) runs: i64,
    /// Write a browsable coverage report of the latest run into DIR.
    #[arg(long, value_name = "DIR")]
    pub(crate) html: Option<PathBuf>,
    /// Write the last run's results as JUnit XML.
    #[arg(long, value_name = "FILE")]
    pub(crate) junit: Option<PathBuf>,
    /// Write the last run's Chrome trace (Perfetto, chrome://tracing).
    #[arg(long, value_name = "FILE")]
    pub(crate) trace: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub(super) struct WatchArgs {
    /// Any directory inside the workspace.
    #[arg(default_value = ".")]
    pub(crate) path: PathBuf,
    /// Print to stdout instead of opening the live view.
    #[arg(long)]
    pub(crate) no_tui: bool,
    /// Output with --no-tui: human lines or JSON lines.
    #[arg(long, value_enum, default_value = "human")]
    pub(crate) format: Format,
    /// Inject a fault into a service's calls through its proxy for the
    /// run: `NAME=KIND`, e.g. `bridge=latency:500ms`, `bridge=status:503`
    /// (repeatable; options after commas: `jitter:…`, `path:…`,
    /// `probability:…`, `allow_timeouts`).
    #[arg(long, value_name = "NAME=KIND")]
    pub(crate) fault: Vec<String>,
    /// Print each call through a service's proxy (`service_call` events).
    #[arg(long)]
    pub(crate) calls: bool,
    /// Stop after this many runs (the first, full run included).
    #[arg(long, value_name = "N")]
    pub(crate) max_runs: Option<u32>,
    /// Config file (default: vigil.toml at the workspace root, if present).
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub(super) struct MergeArgs {
    /// The shards' `--out` directories.
    #[arg(required = true, value_name = "DIR")]
    pub(crate) dirs: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "human")]
    pub(crate) format: Format,
    /// Also write the merged results as JUnit XML.
    #[arg(long, value_name = "FILE")]
    pub(crate) junit: Option<PathBuf>,
    /// Also write the merged coverage as LCOV.
    #[arg(long, value_name = "FILE")]
    pub(crate) lcov: Option<PathBuf>,
    /// Config file for the gate's rules (default: vigil.toml in the
    /// current directory's workspace, if any).
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub(super) struct RunArgs {
    /// Any directory inside the workspace.
    #[arg(default_value = ".")]
    pub(crate) path: PathBuf,
    /// Run every test of the workspace (the default without --filter).
    #[arg(long, conflicts_with_all = ["filter", "changed", "since"])]
    pub(crate) all: bool,
    /// Run what changes to these files affect (the watch-mode selection).
    #[arg(long, value_name = "FILE", num_args = 1.., conflicts_with_all = ["filter", "since"])]
    pub(crate) changed: Vec<PathBuf>,
    /// Run what changed since this git revision affects (committed, staged,
    /// unstaged and untracked files).
    #[arg(long, value_name = "REV", conflicts_with = "filter")]
    pub(crate) since: Option<String>,
    /// A nextest filterset expression (`-E` syntax), e.g. 'package(money)'.
    #[arg(long, short = 'E', value_name = "EXPR")]
    pub(crate) filter: Option<String>,
    /// Output: one line per finished test and a summary, or JSON lines.
    #[arg(long, value_enum, default_value = "human")]
    pub(crate) format: Format,
    /// Config file (default: vigil.toml at the workspace root, if present).
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Also write the coverage as LCOV (for editors and CI).
    #[arg(long, value_name = "FILE")]
    pub(crate) lcov: Option<PathBuf>,
    /// Run one shard of the suite: nextest's partition (`slice:M/N` or
    /// `hash:M/N`), for CI jobs that split the suite.
    #[arg(long, value_name = "SPEC", requires = "out")]
    pub(crate) partition: Option<String>,
    /// Run from a nextest archive (`cargo nextest archive`) instead of
    /// building.
    #[arg(long, value_name = "FILE", requires = "partition")]
    pub(crate) archive_file: Option<PathBuf>,
    /// Write the shard into DIR (`DIR/events.jsonl`), for `vigil merge`.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,
    /// Also write the results as JUnit XML (one testsuite per binary).
    #[arg(long, value_name = "FILE")]
    pub(crate) junit: Option<PathBuf>,
    /// Inject a fault into a service's calls through its proxy for the
    /// run: `NAME=KIND`, e.g. `bridge=latency:500ms`, `bridge=status:503`
    /// (repeatable; options after commas: `jitter:…`, `path:…`,
    /// `probability:…`, `allow_timeouts`).
    #[arg(long, value_name = "NAME=KIND")]
    pub(crate) fault: Vec<String>,
    /// Print each call through a service's proxy (`service_call` events).
    #[arg(long)]
    pub(crate) calls: bool,
    /// Run the tests the proxied services gate once without a fault and
    /// once per configured fault, and report test × fault (holds, fails,
    /// hangs); kept in target/vigil/faults-matrix.json.
    #[arg(long, conflicts_with_all = ["fault", "changed", "since", "partition"])]
    pub(crate) faults_matrix: bool,
    /// Also write a Chrome trace of the run (which tests ran side by side,
    /// on which slot): open it in Perfetto or chrome://tracing.
    #[arg(long, value_name = "FILE")]
    pub(crate) trace: Option<PathBuf>,
}
