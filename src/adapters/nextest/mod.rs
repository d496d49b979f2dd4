//! Drives `cargo nextest`: version check, `list` for the catalog, `run` with
//! the live `libtest-json-plus` stream. Each invocation is a task that owns
//! its process group and turns every stdout line into a `Msg`.

use crate::core::ids::RunId;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::io::{AsyncRead, AsyncReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::clock::Clock;
use super::nextest_json::{classify_exit, is_list_line, parse_list, LineError, StreamDecoder, StreamLine};
use super::process::OwnedChild;
use super::workspace::cargo;
use crate::core::msg::{Msg, TestEvent, TestEventKind, ToolExit};

mod drive;
use drive::*;

/// The oldest nextest with the `libtest-json-plus` stream.
pub(crate) const MIN_VERSION: (u64, u64, u64) = (0, 9, 66);
/// How long nextest gets to stop its tests after SIGTERM.
const GRACE: Duration = Duration::from_secs(5);
/// How much of a tool's stderr is kept (the tail).
const STDERR_KEEP: usize = 64 * 1024;

#[derive(Debug, Error)]
pub enum NextestError {
    #[error(
        "cargo-nextest is not installed\n\
         hint: install it with `cargo install cargo-nextest --locked` (or a prebuilt binary, see https://nexte.st/docs/installation/)"
    )]
    NotInstalled,
    #[error(
        "cargo-nextest {found} is too old: vigil needs {}.{}.{} or newer for the live JSON stream\n\
         hint: update it with `cargo install cargo-nextest --locked` (or `cargo nextest self update`)",
        MIN_VERSION.0, MIN_VERSION.1, MIN_VERSION.2
    )]
    TooOld { found: String },
    #[error("failed to run `cargo nextest --version`: {0}")]
    Spawn(std::io::Error),
    #[error("failed to read the version of cargo-nextest from: {0}")]
    UnknownVersion(String),
}

/// `cargo nextest …` as cargo itself would run it: the `cargo-nextest`
/// binary cargo finds (on PATH, then in `$CARGO_HOME/bin`), called with
/// `nextest …` directly. That skips two processes (rustup's proxy and cargo)
/// on every invocation; the builds nextest starts still go through `cargo`,
/// so the workspace's toolchain still applies. Without the binary in sight,
/// or when `CARGO` names the cargo to use (`cargo vigil`), `cargo nextest`.
pub(crate) fn nextest_command() -> (std::ffi::OsString, Vec<&'static str>) {
    if std::env::var_os("CARGO").is_some() {
        return (cargo().into(), vec!["nextest"]);
    }
    static FOUND: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    let found = FOUND.get_or_init(|| {
        let home = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .chain(home.map(|h| h.join("bin")))
            .map(|d| d.join("cargo-nextest"))
            .find(|p| p.is_file())
    });
    match found {
        Some(p) => (p.clone().into_os_string(), vec!["nextest"]),
        None => (cargo().into(), vec!["nextest"]),
    }
}

/// Checks that `cargo nextest` exists and is new enough; returns its version.
pub fn check_version(dir: &Path) -> Result<String, NextestError> {
    let (program, prefix) = nextest_command();
    let out = super::process::tied(program)
        .args(prefix)
        .arg("--version")
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(NextestError::Spawn)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        if stderr.contains("no such command") || stderr.contains("no such subcommand") {
            return Err(NextestError::NotInstalled);
        }
        return Err(NextestError::UnknownVersion(stderr.trim().to_owned()));
    }
    let version = parse_version(&stdout).ok_or_else(|| NextestError::UnknownVersion(stdout.trim().to_owned()))?;
    if version < MIN_VERSION {
        return Err(NextestError::TooOld {
            found: format!("{}.{}.{}", version.0, version.1, version.2),
        });
    }
    Ok(format!("{}.{}.{}", version.0, version.1, version.2))
}

/// `cargo-nextest 0.9.143 (60fa45f63 2026-08-04)` → (0, 9, 143).
pub fn parse_version(text: &str) -> Option<(u64, u64, u64)> {
    let first = text.lines().next()?;
    let word = first
        .split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))?;
    let core = word.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>());
    Some((parts.next()?.ok()?, parts.next()?.ok()?, parts.next()?.ok()?))
}

struct Job {
    run: RunId,
    /// The `run` job (not the `list` one): its processes are the tests.
    runs_tests: bool,
    /// The process group leader's pid, once spawned (0 before).
    pid: Arc<AtomicU32>,
    cancel: Option<oneshot::Sender<()>>,
    handle: JoinHandle<()>,
}

/// Starts and stops nextest for the app loop: a run's `list` and `run`
/// go side by side (the run streams while the list fills in pending).
pub(crate) struct Nextest {
    root: PathBuf,
    tx: mpsc::UnboundedSender<Msg>,
    clock: Clock,
    jobs: Vec<Job>,
    /// A shard of a CI run: nextest's `--partition`, and the archive to
    /// run from instead of building (`--archive-file`).
    pub partition: Option<String>,
    pub archive: Option<PathBuf>,
    /// How much of a failed test's output is held, and where the whole
    /// of it goes (`None`: held whole, as for a dry engine).
    pub bound: Option<super::bounded::Bound>,
}

impl Nextest {
    pub fn new(root: PathBuf, tx: mpsc::UnboundedSender<Msg>, clock: Clock) -> Self {
        Self {
            root,
            tx,
            clock,
            jobs: Vec::new(),
            partition: None,
            archive: None,
            bound: None,
        }
    }

    fn command(&self, sub: &str, filterset: Option<&str>) -> Command {
        let (program, prefix) = nextest_command();
        let mut cmd = super::process::guarded(program);
        cmd.current_dir(&self.root).args(prefix).arg(sub);
        match &self.archive {
            // Built already: nextest takes no build options with an archive.
            Some(a) => {
                cmd.arg("--archive-file").arg(a);
            }
            None => {
                cmd.args(["--workspace", "--cargo-message-format", "json"]);
            }
        }
        if let Some(p) = &self.partition {
            cmd.args(["--partition", p]);
        }
        if let Some(expr) = filterset {
            cmd.args(["-E", expr]);
        }
        cmd
    }

    pub fn list(&mut self, run: RunId, filterset: Option<&str>, env: &[(String, String)]) {
        let mut cmd = self.command("list", filterset);
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        cmd.args(["--message-format", "json"]);
        self.start(run, cmd, Mode::List);
    }

    /// `low_priority`: nextest and its tests run niced (the idle sweep).
    pub fn run(&mut self, run: RunId, filterset: Option<&str>, env: &[(String, String)], low_priority: bool) {
        let mut cmd = self.command("run", filterset);
        if low_priority {
            // SAFETY: setpriority on the child itself, between fork and
            // exec: a plain system call, async-signal-safe, no allocation.
            unsafe {
                cmd.pre_exec(|| {
                    libc::setpriority(libc::PRIO_PROCESS, 0, 10);
                    Ok(())
                });
            }
        }
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        cmd.env("NEXTEST_EXPERIMENTAL_LIBTEST_JSON", "1").args([
            "--message-format",
            "libtest-json-plus",
            "--no-fail-fast",
            "--show-progress=none",
            "--status-level=none",
            "--final-status-level=none",
        ]);
        // The decoder learns each binary from the stream's suite events.
        self.start(run, cmd, Mode::Run(StreamDecoder::default(), self.bound.clone()));
    }

    fn start(&mut self, run: RunId, cmd: Command, mode: Mode) {
        self.jobs.retain(|j| !j.handle.is_finished());
        let runs_tests = matches!(mode, Mode::Run(..));
        let (cancel_tx, cancel_rx) = oneshot::channel();
        let tx = self.tx.clone();
        let clock = self.clock;
        let pid = Arc::new(AtomicU32::new(0));
        let pid_slot = pid.clone();
        let handle = tokio::spawn(async move {
            // The reader runs as a task of its own: should it fail (a bug
            // in vigil), the run still ends, with the reason, instead of
            // waiting forever for a message that never comes.
            let listing = matches!(mode, Mode::List);
            let reader_tx = tx.clone();
            let reader =
                tokio::spawn(async move { drive(run, cmd, mode, &reader_tx, clock, cancel_rx, &pid_slot).await });
            let msg = match reader.await {
                Ok(msg) => msg,
                Err(e) => {
                    let stderr = format!("vigil's reader of nextest's output failed: {e}");
                    if listing {
                        Msg::ListFailed {
                            run,
                            exit: ToolExit::Other(-1),
                            stderr,
                            at: clock.now(),
                        }
                    } else {
                        Msg::RunExited {
                            run,
                            exit: ToolExit::Other(-1),
                            stderr,
                            at: clock.now(),
                        }
                    }
                }
            };
            let _ = tx.send(msg);
        });
        self.jobs.push(Job {
            run,
            runs_tests,
            pid,
            cancel: Some(cancel_tx),
            handle,
        });
    }

    /// The pid leading the running `nextest run` process group, if one runs.
    pub fn pid(&self) -> Option<u32> {
        let job = self
            .jobs
            .iter()
            .rev()
            .find(|j| j.runs_tests && !j.handle.is_finished())?;
        Some(job.pid.load(Ordering::Relaxed)).filter(|p| *p != 0)
    }

    /// Stops the jobs of `run`; their ends still arrive as messages.
    pub fn cancel(&mut self, run: RunId) {
        self.stop(run, false);
    }

    /// Stops the `run` job of `run` and lets its `list` job finish.
    pub(crate) fn stop_tests(&mut self, run: RunId) {
        self.stop(run, true);
    }

    fn stop(&mut self, run: RunId, tests_only: bool) {
        for job in self
            .jobs
            .iter_mut()
            .filter(|j| j.run == run && (j.runs_tests || !tests_only))
        {
            if let Some(c) = job.cancel.take() {
                let _ = c.send(());
            }
        }
    }

    /// Gives up on a graceful stop: the jobs' tasks are dropped, and with
    /// them the owned process trees (killed at once).
    pub(crate) fn kill_now(&mut self) {
        for job in self.jobs.drain(..) {
            job.handle.abort();
        }
    }

    /// Stops whatever runs and waits until its processes are gone.
    pub async fn shutdown(&mut self) {
        for mut job in self.jobs.drain(..) {
            if let Some(c) = job.cancel.take() {
                let _ = c.send(());
            }
            let _ = (&mut job.handle).await;
        }
    }
}
