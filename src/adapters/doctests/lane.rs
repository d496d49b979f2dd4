//! The doc lane's process: `cargo test --doc` for the packages with
//! examples, beside nextest's run, its output read as it comes (to the
//! bound), stopped with the run.

use super::*;

/// One `cargo test --doc` to run: for `packages`, with the doctest name
/// `filters`, vigil's `env` (coverage), outputs held to `bound`.
pub struct DocJob {
    pub packages: Vec<String>,
    pub filters: Vec<String>,
    pub env: Vec<(String, String)>,
    pub bound: Option<crate::adapters::bounded::Bound>,
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
    loop {
        tokio::select! {
            line = lines.recv() => {
                let Some(line) = line else { break };
                if let Some(mut doc) = parser.line(&line) {
                    seen += 1;
                    let mut wholes: BTreeMap<String, crate::adapters::bounded::Spilled> = doc
                        .tests
                        .iter_mut()
                        .filter_map(|t| Some((t.name.clone(), t.whole.take()?)))
                        .collect();
                    let (suite, mut events) = to_suite(ws, &doc);
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
            _ = &mut cancel => {
                signal_group(pid, libc::SIGTERM);
                if tokio::time::timeout(std::time::Duration::from_secs(2), child.wait()).await.is_err() {
                    signal_group(pid, libc::SIGKILL);
                    let _ = child.wait().await;
                }
                signal_group(pid, libc::SIGKILL);
                return None;
            }
        }
    }
    let code = child.wait().await.ok().and_then(|s| s.code());
    signal_group(pid, libc::SIGKILL);
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
