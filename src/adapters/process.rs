//! Processes vigil starts are owned: each runs in its own process group, and
//! stopping (or dropping) it ends the group and every descendant, including
//! test processes nextest put into process groups of their own.

use std::collections::HashMap;
use std::io;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

pub struct OwnedChild {
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

    pub fn child_mut(&mut self) -> &mut Child {
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
pub fn signal_group(pgid: i32, signal: i32) {
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
pub fn descendants(root: i32) -> Vec<i32> {
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
