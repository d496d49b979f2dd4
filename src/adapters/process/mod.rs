//! Processes vigil starts are owned: each runs in its own process group, and
//! stopping (or dropping) it ends the group and every descendant, including
//! test processes nextest put into process groups of their own.
//! The guard process itself (`vigil __guard`) is `guard`.

use std::collections::HashMap;
use std::io;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

mod guard;
pub use guard::*;

pub(crate) struct OwnedChild {
    child: Child,
    pid: i32,
    exited: bool,
}

impl OwnedChild {
    /// Spawns `cmd` as the leader of a new process group, stdin closed,
    /// stdout and stderr piped.
    pub fn spawn(cmd: &mut Command) -> io::Result<Self> {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        #[cfg(unix)]
        cmd.process_group(0);
        let child = cmd.spawn()?;
        let pid = child.id().map_or(0, |p| p as i32);
        Ok(Self {
            child,
            pid,
            exited: false,
        })
    }

    pub(crate) fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Waits for the exit code (`None`: killed by a signal).
    pub async fn wait(&mut self) -> io::Result<Option<i32>> {
        let status = self.child.wait().await?;
        self.exited = true;
        // Whatever the leader left behind (a test nextest no longer waits
        // for) goes with it. Its orphans now belong to init, so walking
        // /proc for the dead leader's children would find nothing: the
        // group is what is left to signal.
        signal_group(self.pid, libc_sigkill());
        Ok(status.code())
    }

    /// Asks the group to stop (SIGTERM: nextest then stops its tests), waits
    /// up to `grace`, then kills what is left, descendants included.
    pub async fn terminate(&mut self, grace: Duration) -> io::Result<Option<i32>> {
        let tree = descendants(self.pid);
        signal_group(self.pid, libc_sigterm());
        let code = match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(status) => status?.code(),
            Err(_) => {
                kill_tree(self.pid, &tree, libc_sigkill());
                self.child.wait().await?.code()
            }
        };
        self.exited = true;
        kill_tree(self.pid, &tree, libc_sigkill());
        Ok(code)
    }
}

impl Drop for OwnedChild {
    fn drop(&mut self) {
        if !self.exited {
            let tree = descendants(self.pid);
            kill_tree(self.pid, &tree, libc_sigkill());
        }
    }
}

fn libc_sigterm() -> i32 {
    libc::SIGTERM
}
fn libc_sigkill() -> i32 {
    libc::SIGKILL
}

/// Signals a process group (nothing for pgid 0: not started).
pub(crate) fn signal_group(pgid: i32, signal: i32) {
    if pgid > 0 {
        // SAFETY: killpg has no memory-safety preconditions; a stale group
        // just makes it fail with ESRCH.
        unsafe {
            libc::killpg(pgid, signal);
        }
    }
}

/// Signals the group led by `root`, the given pids, and every descendant of
/// `root` still attached to it.
fn kill_tree(root: i32, known: &[i32], signal: i32) {
    if root <= 0 {
        return;
    }
    let mut pids = descendants(root);
    pids.extend_from_slice(known);
    signal_group(root, signal);
    for pid in pids {
        if pid > 1 && pid != std::process::id() as i32 {
            // SAFETY: as above; the pids were descendants moments ago.
            unsafe {
                libc::kill(pid, signal);
            }
        }
    }
}

/// Every process below `root`, read from /proc (Linux); elsewhere none, and
/// the process group alone is signalled.
pub(crate) fn descendants(root: i32) -> Vec<i32> {
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    for entry in dir.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if let Some(ppid) = parent_of(pid) {
            children.entry(ppid).or_default().push(pid);
        }
    }
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        if let Some(kids) = children.get(&p) {
            for &k in kids {
                found.push(k);
                frontier.push(k);
            }
        }
    }
    found
}

fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: read after it.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(1)?.parse().ok()
}

// ---------------------------------------------------------------------------
// Tied to vigil's life.
//
// A process vigil starts must not outlive vigil, also when vigil is killed
// with SIGKILL and runs no code of its own. Linux can tie a child to its
// parent (`PR_SET_PDEATHSIG`), but only the direct child, and only to the
// *thread* that started it. Two shapes follow:
//
// - a tool vigil waits for on the thread that started it (llvm-profdata,
//   llvm-cov, cargo metadata, git, rustc -vV) is tied directly: that thread
//   cannot end before the tool does ([`tied`]);
// - a process that starts processes of its own (nextest and its tests,
//   `cargo test --doc` and rustdoc's doctests, a service's `start` shell)
//   runs under `vigil __guard` ([`guarded`]): a small leader of the
//   process group that is the subreaper of everything below it. When vigil
//   dies the guard asks everything below it to stop (SIGTERM: nextest then
//   stops its tests), and kills what is left after [`GUARD_GRACE`]. A
//   parent-death signal that comes from a thread of vigil ending (vigil
//   itself lives on) is told apart by the guard's parent pid, which stays
//   vigil's, and ignored.
//
// Elsewhere than Linux there is no parent-death signal: the guard polls its
// parent every 200 ms instead, and tools run untied.

/// How long, after vigil died, the guard lets the processes below it stop
/// on their own before it kills them.
pub(crate) const GUARD_GRACE: Duration = Duration::from_millis(2500);

static GUARD: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

/// Names the executable that serves `__guard` (vigil's own binary; `main`
/// sets it). Without it (vigil used as a library), [`guarded`] commands are
/// tied directly and their own children are not covered.
pub fn use_guard(exe: std::path::PathBuf) {
    let _ = GUARD.set(exe);
}

/// vigil's own binary, when `main` named it (`None`: vigil as a library).
pub fn own_exe() -> Option<std::path::PathBuf> {
    GUARD.get().cloned()
}

/// A command for `program` that runs under the guard (see above).
pub fn guarded(program: impl AsRef<std::ffi::OsStr>) -> Command {
    Command::from(guarded_std(program))
}

/// [`guarded`], for a command started without the runtime.
pub fn guarded_std(program: impl AsRef<std::ffi::OsStr>) -> std::process::Command {
    match GUARD.get() {
        Some(exe) => {
            let mut cmd = std::process::Command::new(exe);
            cmd.arg("__guard")
                .arg("--parent")
                .arg(std::process::id().to_string())
                .arg("--")
                .arg(program);
            cmd
        }
        None => tied_with(program, libc::SIGTERM),
    }
}

/// A command for a tool that the calling thread waits for: killed with
/// vigil (SIGKILL; it holds nothing worth a grace).
/// Whether the toolchain that builds in `dir` (its rust-toolchain file,
/// `RUSTUP_TOOLCHAIN` in `env`) is a nightly: branch coverage, libtest's
/// JSON and `--report-time` need one.
pub fn nightly(dir: &std::path::Path, env: &[(String, String)]) -> bool {
    tied("rustc")
        .arg("-V")
        .current_dir(dir)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("nightly"))
}

pub fn tied(program: impl AsRef<std::ffi::OsStr>) -> std::process::Command {
    tied_with(program, libc::SIGKILL)
}

/// [`tied`] with the signal given (SIGHUP for an editor in the terminal:
/// it keeps its recovery file).
pub(crate) fn tied_with(program: impl AsRef<std::ffi::OsStr>, signal: i32) -> std::process::Command {
    let mut cmd = std::process::Command::new(program);
    tie(&mut cmd, signal);
    cmd
}

fn tie(cmd: &mut std::process::Command, signal: i32) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        let parent = std::process::id() as i32;
        // SAFETY: the closure runs in the forked child before exec and only
        // makes async-signal-safe system calls (prctl, getppid, _exit).
        unsafe {
            cmd.pre_exec(move || {
                libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong, 0, 0, 0);
                // vigil died between the fork and the prctl: nothing would
                // send the signal now.
                if libc::getppid() != parent {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (cmd, signal);
}
