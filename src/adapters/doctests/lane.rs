//! The doc lane's process: `cargo test --doc` for the packages with
//! examples, beside nextest's run, its output read as it comes (to the
//! bound), stopped with the run.

use super::*;
use std::collections::HashMap;

/// One `cargo test --doc` to run: for `packages`, with the doctest name
/// `filters`, vigil's `env` (coverage), outputs held to `bound`, each
/// example stopped after `limit` (nextest's slow-timeout ×
/// terminate-after; `None`: never, as nextest).
pub struct DocJob {
    pub packages: Vec<String>,
    pub filters: Vec<String>,
    pub env: Vec<(String, String)>,
    pub bound: Option<crate::adapters::bounded::Bound>,
    pub limit: Option<std::time::Duration>,
}

/// Runs `cargo test --doc` for the job in `ws`; each package's doctests
/// arrive as `Msg::Doctests`, the end as `Msg::DoctestsDone`. Dropping
/// `cancel`'s sender's pair stops it.
pub fn spawn(
    run: RunId,
    ws: Workspace,
    job: DocJob,
    tx: mpsc::UnboundedSender<Msg>,
    clock: Clock,
) -> (oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let (cancel_tx, cancel_rx) = oneshot::channel();
    let handle = tokio::spawn(async move {
        let error = drive(run, &ws, &job, &tx, clock, cancel_rx).await;
        let _ = tx.send(Msg::DoctestsDone {
            run,
            error,
            at: clock.now(),
        });
    });
    (cancel_tx, handle)
}

pub(super) async fn drive(
    run: RunId,
    ws: &Workspace,
    job: &DocJob,
    tx: &mpsc::UnboundedSender<Msg>,
    clock: Clock,
    cancel: oneshot::Receiver<()>,
) -> Option<String> {
    let DocJob {
        packages,
        filters,
        env,
        bound,
        limit,
    } = job;
    // rustdoc costs a second or so per package even with nothing to run:
    // packages whose sources hold no example are left out.
    // A walk of the sources: off the loop.
    let (scan_ws, wanted) = (ws.clone(), packages.clone());
    let packages =
        crate::adapters::offload::blocking("doc-scan", crate::adapters::offload::Priority::Prompt, move || {
            wanted
                .into_iter()
                .filter(|p| has_examples(&scan_ws, p))
                .collect::<Vec<String>>()
        })
        .await
        .unwrap_or_else(|| packages.clone());
    if packages.is_empty() {
        return None;
    }
    let mut cmd = crate::adapters::process::guarded(crate::adapters::workspace::cargo());
    cmd.current_dir(&ws.root).args(["test", "--doc", "--no-fail-fast"]);
    for p in &packages {
        cmd.args(["-p", p]);
    }
    // Colourless output; on a nightly toolchain libtest's JSON, which
    // carries each doctest's own time. The user's RUSTDOCFLAGS stay out
    // (vigil's own, for coverage, come in `env`).
    cmd.env("CARGO_TERM_COLOR", "never").env_remove("RUSTDOCFLAGS");
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    // rustdoc's own temporary directories (one per example) under
    // `target/`, this lane's own: one rustdoc cannot remove, as when the
    // lane is stopped, is vigil's to remove, not left in the user's /tmp.
    let tmp = crate::adapters::state_dir(&ws.target_dir)
        .join("doctest-tmp")
        .join(format!("{}-{run}", std::process::id()));
    if std::fs::create_dir_all(&tmp).is_ok() {
        cmd.env("TMPDIR", &tmp);
    }
    cmd.arg("--").args(filters);
    if nightly(&ws.root, env).await {
        cmd.args(["-Z", "unstable-options", "--format", "json", "--report-time"]);
    }
    // cargo says which package's doctests follow (`Doc-tests x`) on stderr
    // and rustdoc reports them on stdout: one pipe keeps them in order.
    let reader = match pipe().and_then(|(r, w)| Ok((r, w.try_clone()?, w))) {
        Ok((r, w1, w2)) => {
            cmd.stdout(w1).stderr(w2);
            r
        }
        Err(e) => return Some(format!("failed to run `cargo test --doc`: {e}")),
    };
    cmd.stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .process_group(0);
    let spawned = cmd.spawn();
    // The command holds the pipe's writing ends: without it, the reader
    // sees the end when cargo is done.
    drop(cmd);
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => return Some(format!("failed to run `cargo test --doc`: {e}")),
    };
    let pid = child.id().map_or(0, |p| p as i32);
    let (line_tx, mut lines) = mpsc::unbounded_channel();
    // Lines are held to the bound too: a doctest's one long line of
    // output costs its first `max` bytes.
    let cap = bound.as_ref().map_or(usize::MAX, |b| b.max);
    std::thread::spawn(move || {
        let mut reader = std::io::BufReader::new(reader);
        while let Ok(Some(line)) = crate::adapters::bounded::read_capped_line(&mut reader, cap) {
            if line_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut parser = DocParser::with_bound(bound.clone());
    let mut seen = 0;
    let mut tail: std::collections::VecDeque<String> = std::collections::VecDeque::new();
    let mut cancel = cancel;
    let mut watch = Watchdog::new(pid, *limit);
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let ended = loop {
        tokio::select! {
            line = lines.recv() => {
                let Some(line) = line else { break true };
                if let Some(mut doc) = parser.line(&line) {
                    seen += 1;
                    let mut wholes: BTreeMap<String, crate::adapters::bounded::Spilled> = doc
                        .tests
                        .iter_mut()
                        .filter_map(|t| Some((t.name.clone(), t.whole.take()?)))
                        .collect();
                    let (suite, mut events) = to_suite(ws, &doc);
                    watch.name_timeouts(&mut events);
                    if let Some(b) = &bound {
                        for e in &mut events {
                            if let TestEventKind::Failed { failure, .. } = &mut e.kind {
                                b.hold(&e.binary_id, &e.name, failure, wholes.remove(&e.name));
                            }
                        }
                    }
                    for (_, w) in wholes {
                        let _ = std::fs::remove_file(w.path);
                    }
                    let _ = tx.send(Msg::Doctests {
                        run,
                        suite,
                        events,
                        at: clock.now(),
                    });
                }
                tail.push_back(line);
                if tail.len() > 30 {
                    tail.pop_front();
                }
            }
            _ = tick.tick(), if limit.is_some() => watch.check().await,
            _ = &mut cancel => {
                signal_group(pid, libc::SIGTERM);
                if tokio::time::timeout(std::time::Duration::from_secs(2), child.wait()).await.is_err() {
                    signal_group(pid, libc::SIGKILL);
                    let _ = child.wait().await;
                }
                signal_group(pid, libc::SIGKILL);
                break false;
            }
        }
    };
    if !ended {
        let _ = std::fs::remove_dir_all(&tmp);
        return None;
    }
    let code = child.wait().await.ok().and_then(|s| s.code());
    signal_group(pid, libc::SIGKILL);
    let _ = std::fs::remove_dir_all(&tmp);
    // 101 with results: doctests failed, which the results say. Without
    // any: the build failed (or cargo did), which its output says.
    if code != Some(0) && seen == 0 {
        return Some(format!(
            "`cargo test --doc` failed:\n{}",
            tail.into_iter().collect::<Vec<_>>().join("\n")
        ));
    }
    None
}

/// Whether the workspace's toolchain is a nightly (libtest's JSON format
/// and `--report-time` are unstable).
pub(super) async fn nightly(root: &std::path::Path, env: &[(String, String)]) -> bool {
    let (root, env) = (root.to_owned(), env.to_vec());
    crate::adapters::offload::blocking("toolchain", crate::adapters::offload::Priority::Prompt, move || {
        crate::adapters::process::nightly(&root, &env)
    })
    .await
    .unwrap_or(false)
}

/// A pipe (read end, write end), closed on exec.
pub(super) fn pipe() -> std::io::Result<(std::fs::File, std::fs::File)> {
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two fresh descriptors into `fds`, which are
    // then owned by the two Files and nothing else.
    unsafe {
        if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok((std::fs::File::from_raw_fd(fds[0]), std::fs::File::from_raw_fd(fds[1])))
    }
}

/// Whether a package's sources may hold a doctest: a fenced block in a doc
/// comment, or docs taken from another file (`#![doc = include_str!(…)]`).
pub(super) fn has_examples(ws: &Workspace, package: &str) -> bool {
    let Some(p) = ws.packages.iter().find(|p| p.name == package) else {
        return true;
    };
    let mut stack = vec![p.manifest_dir.join("src")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let doc = text.lines().any(|l| {
                    let l = l.trim_start();
                    ((l.starts_with("///") || l.starts_with("//!")) && l.contains("```"))
                        || ((l.starts_with("#![doc") || l.starts_with("#[doc")) && l.contains("include_str!"))
                });
                if doc {
                    return true;
                }
            }
        }
    }
    false
}

/// Stops each example that runs longer than the limit, as nextest stops a
/// test, and names the failures that follows.
struct Watchdog {
    root: i32,
    limit: Option<std::time::Duration>,
    /// Each example running (pid, its start in clock ticks) → when it was
    /// first seen.
    seen: HashMap<(i32, u64), std::time::Instant>,
    /// Examples stopped whose failure has not been seen yet.
    stopped: usize,
}

impl Watchdog {
    fn new(root: i32, limit: Option<std::time::Duration>) -> Self {
        Self {
            root,
            limit,
            seen: HashMap::new(),
            stopped: 0,
        }
    }

    /// Looks at the examples running (off the loop) and stops those that
    /// are over the limit.
    async fn check(&mut self) {
        let Some(limit) = self.limit else { return };
        let root = self.root;
        let Ok(running) = tokio::task::spawn_blocking(move || examples(root)).await else {
            return;
        };
        let now = std::time::Instant::now();
        self.seen.retain(|k, _| running.contains(k));
        for key in running {
            let since = *self.seen.entry(key).or_insert(now);
            if now.duration_since(since) >= limit {
                // SAFETY: kill has no memory-safety preconditions; the pid
                // was an example of this lane a moment ago.
                unsafe {
                    libc::kill(key.0, libc::SIGKILL);
                }
                self.seen.remove(&key);
                self.stopped += 1;
            }
        }
    }

    /// Says "timed out" on the failures of the examples it stopped: rustdoc
    /// reports them as killed by a signal (`signal: 9 (SIGKILL)`; a merged
    /// example's runner says only "terminated by signal").
    fn name_timeouts(&mut self, events: &mut [TestEvent]) {
        let Some(limit) = self.limit else { return };
        for e in events {
            if self.stopped == 0 {
                return;
            }
            if let TestEventKind::Failed { failure, .. } = &mut e.kind {
                let killed = failure.output.contains("Test executable failed (signal: 9")
                    || failure.output.contains("Test executable failed (terminated by signal)");
                if killed {
                    failure.message = format!(
                        "timed out: vigil stopped the example after {} s, as nextest stops a test \
                         (its slow-timeout × terminate-after in `.config/nextest.toml`)",
                        limit.as_secs_f64()
                    );
                    self.stopped -= 1;
                }
            }
        }
    }
}

/// The examples running below `root` (the lane's process group leader),
/// each as (pid, its start in clock ticks): a process rustdoc started
/// (editions 2015–2021), or, in an edition 2024 crate, one the merged
/// doctests' runner started of its own executable (the runner itself is
/// none: it holds every merged example).
pub(super) fn examples(root: i32) -> Vec<(i32, u64)> {
    let below = crate::adapters::process::descendants(root);
    let info: HashMap<i32, (i32, String, u64)> = below.iter().filter_map(|&p| Some((p, stat(p)?))).collect();
    let exe = |p: i32| std::fs::read_link(format!("/proc/{p}/exe")).ok();
    let mut out = Vec::new();
    for (&pid, (ppid, _, start)) in &info {
        let Some((grand, parent_comm, _)) = info.get(ppid) else {
            continue;
        };
        if parent_comm == "rustdoc" {
            let runner = info
                .iter()
                .any(|(&c, (pp, _, _))| *pp == pid && exe(c).is_some() && exe(c) == exe(pid));
            if !runner {
                out.push((pid, *start));
            }
        } else if info.get(grand).is_some_and(|g| g.1 == "rustdoc") && exe(pid).is_some() && exe(pid) == exe(*ppid) {
            out.push((pid, *start));
        }
    }
    out
}

/// A process's parent, command name and start (clock ticks since boot),
/// from /proc.
fn stat(pid: i32) -> Option<(i32, String, u64)> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

fn parse_stat(text: &str) -> Option<(i32, String, u64)> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_owned();
    let mut rest = text[close + 1..].split_whitespace();
    // After the name: state, ppid, …; the start time is field 22 (the 20th after it).
    let ppid = rest.nth(1)?.parse().ok()?;
    let start = rest.nth(17)?.parse().ok()?;
    Some((ppid, comm, start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_stat_line_gives_parent_name_and_start_even_with_parentheses_in_the_name() {
        let line = "4242 (rust out) (x)) S 4200 4100 4100 0 -1 4194304 120 0 0 0 3 1 0 0 20 0 1 0 987654 1000 10 18446744073709551615";
        assert_eq!(parse_stat(line), Some((4200, "rust out) (x)".to_owned(), 987654)));
        assert_eq!(parse_stat("4242 (x) S"), None);
        // This process, as /proc says.
        let me = std::process::id() as i32;
        let (parent, _, start) = stat(me).unwrap();
        assert_eq!(parent, std::os::unix::process::parent_id() as i32);
        assert!(start > 0);
    }
}
