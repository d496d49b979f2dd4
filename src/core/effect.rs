//! What the core asks the outside world to do.

use super::report::Report;
use crate::core::ids::RunId;

#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Build and list the tests (`nextest list`), with an optional filterset.
    List { run: RunId, filterset: Option<String> },
    /// Read the tree as the run starts, off the loop: its fingerprint (and
    /// the hygiene findings, when `hygiene`).
    Survey { run: RunId, hygiene: bool },
    /// Run the listed selection (`nextest run`).
    Run { run: RunId, filterset: Option<String> },
    /// Stop the run's processes, the whole group.
    Cancel { run: RunId },
    /// Stop the run's tests, but let its list finish (the build is done,
    /// so it is about to): the cancelled tests are then counted by name.
    StopTests { run: RunId },
    /// Tell the sink (JSON lines, human lines, or nothing for the TUI).
    Emit(Box<Report>),
    /// Merge the run's coverage profiles and report (the binaries that
    /// ran), over every test binary known (id → path).
    CollectCoverage {
        run: RunId,
        ran: Vec<String>,
        binaries: std::collections::BTreeMap<String, std::path::PathBuf>,
        /// The tests that ran, whose own profiles become their maps.
        tests: Vec<super::testmap::TestKey>,
        /// Binaries of `ran` that ran only some of their tests (test-level
        /// selection): their earlier profile is merged in, not replaced.
        partial: Vec<String>,
    },
    /// Come back with `Msg::SweepDue { token }` after `after` (the idle
    /// sweep's timer).
    SweepTimer { token: u64, after: std::time::Duration },
    /// Read the changed files, and the texts the coverage maps were
    /// measured on (content hashes), to place a change set against the maps.
    ReadTexts {
        files: Vec<std::path::PathBuf>,
        /// (workspace-relative path, content hash) of each version.
        versions: Vec<(String, String)>,
    },
    /// Keep a complete listing for the next session (`target/vigil`).
    SaveList { suites: Vec<super::catalog::ListedSuite> },
    /// Read a workspace file for the coverage view's source pane.
    LoadSource { path: String },
    /// Read what the compilations read again (dep-info, build script
    /// output): a build has happened.
    IndexInputs,
    /// Watch what the model now names: the workspace's directories (after
    /// a reload, when `workspace`) and the inputs outside it.
    Rewatch { workspace: bool },
    /// Read the workspace (cargo metadata) and the config again.
    Reload,
    /// Check a service after `after`; answer with `Msg::Probed`.
    Probe {
        service: String,
        token: u64,
        check: super::services::Check,
        timeout: std::time::Duration,
        after: std::time::Duration,
    },
    /// The fault a service's proxy injects from now on (`None`: none).
    SetFault {
        service: String,
        fault: Option<super::faults::Fault>,
    },
    /// Run a service's `start` command (stopping what vigil started of it
    /// before, when `restart`); it is stopped when vigil exits.
    StartService {
        service: String,
        argv: Vec<String>,
        restart: bool,
    },
    /// Run the doctests of these packages (`cargo test --doc`).
    /// `cargo test --doc` for `packages`; `filters` (libtest's name
    /// filters) narrow it to the doctests of the items a change reached.
    Doctests {
        run: RunId,
        packages: Vec<String>,
        filters: Vec<String>,
    },
    /// Open a location in the user's editor.
    Edit(EditTarget),
    /// Put text on the clipboard through the terminal (OSC 52).
    Copy { text: String },
    /// Ring the terminal's bell (`notify = "bell"`).
    Bell,
    /// Accept insta snapshots: move each `<snap>.new` onto `<snap>`, then
    /// come back with `Msg::SnapshotsAccepted` (and the tests to rerun).
    AcceptSnapshots {
        snaps: Vec<std::path::PathBuf>,
        rerun: super::run::Selection,
    },
    /// Audit tests (`vigil check FILTER`), off the loop; come back with
    /// `Msg::Checked`.
    Check { filter: String },
    /// Answer one client of the socket.
    Reply {
        client: crate::core::ids::ClientId,
        reply: super::command::Reply,
    },
    /// Send one client the snapshot of the model as it is now (and, when
    /// `subscribe`, the events from then on).
    Snapshot { to: super::command::To, subscribe: bool },
    /// Leave the interactive view (after stopping any run).
    Quit,
}

impl Effect {
    pub fn emit(report: Report) -> Self {
        Effect::Emit(Box::new(report))
    }

    /// What this effect is for: the world (processes, files, timers,
    /// sockets: carried out by the engine's adapters) or the front end
    /// (the sink, the terminal, the user's editor). Exhaustive: a new effect
    /// is placed here before anything compiles.
    pub fn class(self) -> Class {
        match self {
            Effect::Emit(r) => Class::Outward(Outward::Emit(r)),
            Effect::Edit(t) => Class::Outward(Outward::Edit(t)),
            Effect::Copy { text } => Class::Outward(Outward::Copy { text }),
            Effect::Bell => Class::Outward(Outward::Bell),
            Effect::Quit => Class::Outward(Outward::Quit),
            Effect::List { .. }
            | Effect::Survey { .. }
            | Effect::Run { .. }
            | Effect::Cancel { .. }
            | Effect::StopTests { .. }
            | Effect::CollectCoverage { .. }
            | Effect::SweepTimer { .. }
            | Effect::ReadTexts { .. }
            | Effect::SaveList { .. }
            | Effect::LoadSource { .. }
            | Effect::IndexInputs
            | Effect::Rewatch { .. }
            | Effect::Reload
            | Effect::Probe { .. }
            | Effect::StartService { .. }
            | Effect::SetFault { .. }
            | Effect::Doctests { .. }
            | Effect::AcceptSnapshots { .. }
            | Effect::Reply { .. }
            | Effect::Check { .. }
            | Effect::Snapshot { .. } => Class::World(self),
        }
    }
}

/// An effect, by who carries it out.
#[derive(Clone, Debug, PartialEq)]
pub enum Class {
    /// The engine's adapters (its effect is never an `Outward` one).
    World(Effect),
    Outward(Outward),
}

/// What the front end carries out: the engine hands these back.
#[derive(Clone, Debug, PartialEq)]
pub enum Outward {
    /// Tell the sink (JSON lines, human lines, or nothing for the TUI).
    Emit(Box<Report>),
    /// Open a location in the user's editor.
    Edit(EditTarget),
    /// Put text on the clipboard through the terminal (OSC 52).
    Copy { text: String },
    /// Ring the terminal's bell.
    Bell,
    /// Leave the interactive view.
    Quit,
}

/// What `e` opens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EditTarget {
    /// A file (absolute) at a line.
    At { path: std::path::PathBuf, line: u32 },
    /// A test's definition: `fn <name>` in the `.rs` files under `dirs`.
    TestFn {
        dirs: Vec<std::path::PathBuf>,
        name: String,
    },
}
