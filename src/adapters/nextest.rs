//! Drives `cargo nextest`: version check, `list` for the catalog, `run` with
//! the live `libtest-json-plus` stream. Each invocation is a task that owns
//! its process group and turns every stdout line into a `Msg`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::clock::Clock;
use super::nextest_json::{classify_exit, is_list_line, parse_list, LineError, StreamDecoder, StreamLine};
use super::process::OwnedChild;
use super::workspace::cargo;
use crate::core::msg::{ListedSuite, Msg, TestEvent, TestEventKind, ToolExit};

/// The oldest nextest with the `libtest-json-plus` stream.
pub const MIN_VERSION: (u64, u64, u64) = (0, 9, 66);
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

/// Checks that `cargo nextest` exists and is new enough; returns its version.
pub fn check_version(dir: &Path) -> Result<String, NextestError> {
    let out = std::process::Command::new(cargo())
        .args(["nextest", "--version"])
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
    run: u32,
    /// The process group leader's pid, once spawned (0 before).
    pid: Arc<AtomicU32>,
    cancel: Option<oneshot::Sender<()>>,
    handle: JoinHandle<()>,
}

/// Starts and stops nextest for the app loop. One job at a time.
pub struct Nextest {
    root: PathBuf,
    tx: mpsc::UnboundedSender<Msg>,
    clock: Clock,
    decoder: StreamDecoder,
    job: Option<Job>,
}

impl Nextest {
    pub fn new(root: PathBuf, tx: mpsc::UnboundedSender<Msg>, clock: Clock) -> Self {
        Self {
            root,
            tx,
            clock,
            decoder: StreamDecoder::default(),
            job: None,
        }
    }

    /// The latest listing names the binaries the run stream will mention.
    pub fn set_listing(&mut self, suites: &[ListedSuite]) {
        self.decoder = StreamDecoder::new(suites);
    }

    fn command(&self, sub: &str, filterset: Option<&str>) -> Command {
        let mut cmd = Command::new(cargo());
        cmd.current_dir(&self.root)
            .args(["nextest", sub, "--workspace", "--cargo-message-format", "json"]);
        if let Some(expr) = filterset {
            cmd.args(["-E", expr]);
        }
        cmd
    }

    pub fn list(&mut self, run: u32, filterset: Option<&str>, env: &[(String, String)]) {
        let mut cmd = self.command("list", filterset);
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        cmd.args(["--message-format", "json"]);
        self.start(run, cmd, Mode::List);
    }

    pub fn run(&mut self, run: u32, filterset: Option<&str>, env: &[(String, String)]) {
        let mut cmd = self.command("run", filterset);
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        cmd.env("NEXTEST_EXPERIMENTAL_LIBTEST_JSON", "1").args([
            "--message-format",
            "libtest-json-plus",
            "--no-fail-fast",
            "--show-progress=none",
            "--status-level=none",
            "--final-status-level=none",
        ]);
        self.start(run, cmd, Mode::Run(self.decoder.clone()));
    }

    fn start(&mut self, run: u32, cmd: Command, mode: Mode) {
        let (cancel_tx, cancel_rx) = oneshot::channel();
        let tx = self.tx.clone();
        let clock = self.clock;
        let pid = Arc::new(AtomicU32::new(0));
        let pid_slot = pid.clone();
        let handle = tokio::spawn(async move {
            let msg = drive(run, cmd, mode, &tx, clock, cancel_rx, &pid_slot).await;
            let _ = tx.send(msg);
        });
        self.job = Some(Job {
            run,
            pid,
            cancel: Some(cancel_tx),
            handle,
        });
    }

    /// The pid leading the running nextest process group, if one runs.
    pub fn pid(&self) -> Option<u32> {
        let job = self.job.as_ref().filter(|j| !j.handle.is_finished())?;
        Some(job.pid.load(Ordering::Relaxed)).filter(|p| *p != 0)
    }

    /// Stops the job of `run`, if it is the current one; its end still
    /// arrives as a message.
    pub fn cancel(&mut self, run: u32) {
        if let Some(job) = self.job.as_mut().filter(|j| j.run == run) {
            if let Some(c) = job.cancel.take() {
                let _ = c.send(());
            }
        }
    }

    /// Gives up on a graceful stop: the job's task is dropped, and with it
    /// the owned process tree (killed at once).
    pub fn kill_now(&mut self) {
        if let Some(job) = self.job.take() {
            job.handle.abort();
        }
    }

    /// Stops whatever runs and waits until its processes are gone.
    pub async fn shutdown(&mut self) {
        if let Some(mut job) = self.job.take() {
            if let Some(c) = job.cancel.take() {
                let _ = c.send(());
            }
            let _ = (&mut job.handle).await;
        }
    }
}

enum Mode {
    List,
    Run(StreamDecoder),
}

async fn drive(
    run: u32,
    mut cmd: Command,
    mode: Mode,
    tx: &mpsc::UnboundedSender<Msg>,
    clock: Clock,
    mut cancel: oneshot::Receiver<()>,
    pid_slot: &AtomicU32,
) -> Msg {
    let fail = |stderr: String| match &mode {
        Mode::List => Msg::ListFailed {
            run,
            exit: ToolExit::Other(-1),
            stderr,
            at: clock.now(),
        },
        Mode::Run(_) => Msg::RunExited {
            run,
            exit: ToolExit::Other(-1),
            stderr,
            at: clock.now(),
        },
    };
    let mut child = match OwnedChild::spawn(&mut cmd) {
        Ok(c) => c,
        Err(e) => return fail(format!("failed to start cargo nextest: {e}")),
    };
    pid_slot.store(child.pid().max(0) as u32, Ordering::Relaxed);
    let (Some(stdout), Some(stderr)) = (child.child_mut().stdout.take(), child.child_mut().stderr.take()) else {
        return fail("failed to capture the output of cargo nextest".to_owned());
    };
    let stderr_task = tokio::spawn(read_tail(stderr, STDERR_KEEP));
    let mut lines = BufReader::new(stdout);
    let mut buf = Vec::new();
    let mut list_json: Option<String> = None;
    let mut cancelled = false;
    loop {
        buf.clear();
        let read = tokio::select! {
            r = lines.read_until(b'\n', &mut buf) => r,
            _ = &mut cancel, if !cancelled => {
                cancelled = true;
                let _ = child.terminate(GRACE).await;
                continue;
            }
        };
        match read {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let line = String::from_utf8_lossy(&buf);
        let line = line.trim_end_matches(['\n', '\r']);
        if line.is_empty() {
            continue;
        }
        match &mode {
            Mode::List if is_list_line(line) => list_json = Some(line.to_owned()),
            Mode::List | Mode::Run(_) => {
                let decoder = match &mode {
                    Mode::Run(d) => d,
                    Mode::List => &StreamDecoder::default(),
                };
                if let Some(msg) = line_to_msg(decoder, run, line, clock) {
                    let _ = tx.send(msg);
                }
            }
        }
    }
    let code = if cancelled {
        child.terminate(GRACE).await.ok().flatten()
    } else {
        child.wait().await.ok().flatten()
    };
    let stderr = stderr_task.await.unwrap_or_default();
    let at = clock.now();
    let exit = if cancelled {
        ToolExit::Killed
    } else {
        classify_exit(code)
    };
    match mode {
        Mode::List => match (exit, list_json) {
            (ToolExit::Success, Some(json)) => match parse_list(&json) {
                Ok(suites) => Msg::Listed { run, suites, at },
                Err(e) => Msg::ListFailed {
                    run,
                    exit: ToolExit::ListFailed,
                    stderr: format!("failed to parse the test list from nextest: {e}"),
                    at,
                },
            },
            (ToolExit::Success, None) => Msg::ListFailed {
                run,
                exit: ToolExit::ListFailed,
                stderr: format!("nextest printed no test list\n{stderr}"),
                at,
            },
            (exit, _) => Msg::ListFailed { run, exit, stderr, at },
        },
        Mode::Run(_) => Msg::RunExited { run, exit, stderr, at },
    }
}

/// One stdout line as a message; `None` for lines vigil does not act on.
pub fn line_to_msg(decoder: &StreamDecoder, run: u32, line: &str, clock: Clock) -> Option<Msg> {
    match decoder.decode(line) {
        Ok(StreamLine::Build(diagnostic)) => Some(Msg::Build { run, diagnostic }),
        Ok(StreamLine::Test(event)) => Some(Msg::Test {
            run,
            event,
            at: clock.now(),
        }),
        Ok(StreamLine::Other) => None,
        Err(LineError::Malformed) => Some(Msg::Unparsed {
            run,
            line: line.to_owned(),
        }),
        Err(LineError::UnknownBinary(prefix)) => Some(Msg::Test {
            run,
            event: TestEvent {
                binary_id: prefix.into(),
                name: String::new(),
                kind: TestEventKind::Ignored,
            },
            at: clock.now(),
        }),
    }
}

/// Reads a stream to its end, keeping the last `keep` bytes.
async fn read_tail(mut r: impl AsyncRead + Unpin, keep: usize) -> String {
    let mut kept: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 8192];
    while let Ok(n) = r.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        kept.extend_from_slice(&chunk[..n]);
        if kept.len() > 2 * keep {
            kept.drain(..kept.len() - keep);
        }
    }
    if kept.len() > keep {
        kept.drain(..kept.len() - keep);
    }
    String::from_utf8_lossy(&kept).into_owned()
}
