//! Everything that can change the model arrives as one of these messages:
//! requests from the user, what the nextest adapter parsed, and the clock.

use crate::core::ids::RunId;
use std::sync::Arc;
use std::time::Duration;

use super::run::{Selection, Trigger};
use super::ui_state::{Key, Resources};

#[derive(Clone, Debug)]
pub enum Msg {
    /// Start a run. If one is in flight it is cancelled first and this one
    /// starts when it has ended.
    RunRequested {
        trigger: Trigger,
        selection: Selection,
        at: Duration,
    },
    /// A build diagnostic from cargo (while listing or running).
    Build {
        run: RunId,
        diagnostic: BuildDiagnostic,
    },
    /// `nextest list` succeeded: the suites and which tests the run selects.
    Listed {
        run: RunId,
        suites: Vec<ListedSuite>,
        at: Duration,
    },
    /// `nextest list` (and so the build) failed.
    ListFailed {
        run: RunId,
        exit: ToolExit,
        stderr: String,
        at: Duration,
    },
    /// One event of the run stream.
    Test {
        run: RunId,
        event: TestEvent,
        at: Duration,
    },
    /// A line of tool output that could not be parsed: skipped and counted.
    Unparsed {
        run: RunId,
        line: String,
    },
    /// `nextest run` ended.
    RunExited {
        run: RunId,
        exit: ToolExit,
        stderr: String,
        at: Duration,
    },
    /// Ctrl-C, SIGTERM, or a key: stop the run in flight.
    Cancel {
        at: Duration,
    },
    Tick {
        now: Duration,
    },
    /// The watcher's debounced change set (absolute paths).
    FilesChanged {
        paths: Vec<std::path::PathBuf>,
        at: Duration,
    },
    /// The workspace and config, read again after a manifest or config
    /// changed; `error` when that failed (the old ones stay).
    Reloaded {
        workspace: Option<Box<super::catalog::Workspace>>,
        rules: Option<super::rules::Rules>,
        error: Option<String>,
        /// The reload an `Effect::Reload` asked for (false: the resolved
        /// graph, read beside the first run).
        requested: bool,
    },
    /// What the workspace's compilations read, indexed again (after a build).
    InputsIndexed {
        inputs: Box<super::inputs::Inputs>,
    },
    /// The run's build finished: every test binary it produced, and whether
    /// cargo found it up to date (`fresh`).
    Built {
        run: RunId,
        binaries: Vec<(std::path::PathBuf, bool)>,
        success: bool,
        at: Duration,
    },
    /// The history of past runs, read from the store (beside the first
    /// run), and the last coverage it kept (for deltas across sessions).
    HistoryLoaded {
        history: Box<super::history::History>,
        /// With the history's id of the run it comes from.
        coverage: Option<(i64, Box<super::coverage::Coverage>)>,
    },
    /// The digest of the workspace's files as `run` started.
    Fingerprint {
        run: RunId,
        fingerprint: String,
    },
    /// Test-hygiene findings from the sources, as a run starts.
    Hygiene {
        warnings: Vec<super::hygiene::HygieneWarning>,
    },
    /// Each test's record from its source (assertions, markers,
    /// fixtures), read as a run starts.
    TestSources {
        records: Vec<(super::testmap::TestKey, super::check::SourceRecord)>,
    },
    /// Coverage of `run`, collected after nextest ended.
    /// The idle sweep's timer went off.
    SweepDue {
        token: u64,
        at: Duration,
    },
    /// The texts a waiting change set is placed with.
    TextsRead {
        texts: Box<super::select_tests::Texts>,
    },
    CoverageCollected {
        run: RunId,
        result: Result<Box<super::coverage::Coverage>, String>,
        /// Each test's lines, from its own profile.
        maps: Vec<(super::testmap::TestKey, super::testmap::TestMap)>,
        /// Why some tests have no map.
        map_note: Option<String>,
        /// The lines changed since the patch base, or why they are unknown.
        patch: Option<Result<super::patch::Changes, String>>,
        /// What the run's tests left running.
        leaks: Vec<super::check::Finding>,
        at: Duration,
    },
    /// A file's text for the source pane (`None`: it could not be read).
    SourceLoaded {
        path: String,
        text: Option<String>,
    },
    /// A service's probe came back (`token`: the one it was asked with).
    Probed {
        service: String,
        token: u64,
        probe: super::services::Probe,
        at: Duration,
    },
    /// A call through a service's proxy ended.
    ServiceCall(Box<super::faults::Call>),
    /// A service's proxy could not listen.
    ProxyFailed {
        service: String,
        error: String,
    },
    /// A service's `start` command could not be run, or failed.
    StartFailed {
        service: String,
        error: String,
        at: Duration,
    },
    /// One package's doctests came back (`cargo test --doc`): its suite
    /// and its tests' results.
    Doctests {
        run: RunId,
        suite: ListedSuite,
        events: Vec<TestEvent>,
        at: Duration,
    },
    /// `cargo test --doc` ended (`error`: it could not run them).
    DoctestsDone {
        run: RunId,
        error: Option<String>,
        at: Duration,
    },
    /// Snapshots were accepted (`u`/`U`): how many, what failed, and the
    /// tests to rerun.
    SnapshotsAccepted {
        accepted: usize,
        errors: Vec<String>,
        rerun: Selection,
        at: Duration,
    },
    /// A key in the interactive view.
    Key {
        key: Key,
        at: Duration,
    },
    /// Mouse wheel: rows to move (negative: up).
    Scroll {
        delta: isize,
    },
    /// The terminal's size changed: this many tree rows fit.
    Resize {
        tree_rows: u16,
    },
    /// Something vigil keeps (the history record, the kept run) has been
    /// written, or has failed: the engine says what could not be kept.
    Kept,
    /// Something for the user to read in the status line (what the
    /// editor did, why watching is off).
    Note {
        text: String,
    },
    /// A client of the socket asked for something (a new client asks for
    /// the snapshot first, and hears the events from then on).
    Client {
        to: super::command::To,
        command: super::command::Command,
        /// A new client: the snapshot's reply subscribes it to the events.
        subscribe: bool,
        at: Duration,
    },
    /// `vigil check` came back: its summary, or why it could not run.
    Checked {
        result: Result<Box<super::check::CheckSummary>, String>,
    },
    /// A sample of the running process tree, with per-test resident memory.
    Resources {
        sample: Resources,
        tests: Vec<(Arc<str>, String, u64)>,
    },
}

impl Msg {
    /// When the message happened, on the engine's clock (`None`: it
    /// carries no time). `update` moves the model's clock to it once.
    pub fn at(&self) -> Option<Duration> {
        match self {
            Msg::RunRequested { at, .. }
            | Msg::Listed { at, .. }
            | Msg::ListFailed { at, .. }
            | Msg::Test { at, .. }
            | Msg::RunExited { at, .. }
            | Msg::Cancel { at, .. }
            | Msg::FilesChanged { at, .. }
            | Msg::Built { at, .. }
            | Msg::SweepDue { at, .. }
            | Msg::CoverageCollected { at, .. }
            | Msg::Probed { at, .. }
            | Msg::StartFailed { at, .. }
            | Msg::Doctests { at, .. }
            | Msg::DoctestsDone { at, .. }
            | Msg::SnapshotsAccepted { at, .. }
            | Msg::Key { at, .. }
            | Msg::Client { at, .. } => Some(*at),
            Msg::Tick { now } => Some(*now),
            Msg::Kept => None,
            Msg::Build { .. }
            | Msg::Unparsed { .. }
            | Msg::Reloaded { .. }
            | Msg::InputsIndexed { .. }
            | Msg::HistoryLoaded { .. }
            | Msg::Fingerprint { .. }
            | Msg::Hygiene { .. }
            | Msg::TestSources { .. }
            | Msg::TextsRead { .. }
            | Msg::SourceLoaded { .. }
            | Msg::Scroll { .. }
            | Msg::Resize { .. }
            | Msg::Note { .. }
            | Msg::Resources { .. }
            | Msg::Checked { .. }
            | Msg::ProxyFailed { .. } => None,
            Msg::ServiceCall(c) => Some(c.at),
        }
    }
}

// The domain types messages carry live with their nouns.
pub use super::catalog::{ListedSuite, ListedTest};
pub use super::run::{BuildDiagnostic, ToolExit};
pub use super::test_state::{TestEvent, TestEventKind};
