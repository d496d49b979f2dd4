//! One nextest process driven to its end: its event stream decoded into
//! messages as it comes, its stderr's tail kept, stopped gracefully or not
//! (SIGTERM to the group, SIGKILL after the grace period).

use super::*;
use crate::core::ids::RunId;

pub(super) enum Mode {
    List,
    /// A run: its decoder, and how much of a failure's output is held.
    Run(StreamDecoder, Option<crate::adapters::bounded::Bound>),
}

pub(super) async fn drive(
    run: RunId,
    mut cmd: Command,
    mut mode: Mode,
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
        Mode::Run(..) => Msg::RunExited {
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
    use crate::adapters::bounded::{Line, LineReader};
    // The list is held whole; a run's lines are held to the bound.
    let bound = match &mode {
        Mode::Run(_, b) => b.clone(),
        Mode::List => None,
    };
    let hold_all = bound.is_none();
    let mut lines = LineReader::new(
        BufReader::new(stdout),
        bound
            .clone()
            .unwrap_or_else(|| crate::adapters::bounded::Bound::new(Path::new(""), usize::MAX / 4)),
    );
    let mut list_json: Option<String> = None;
    let mut cancelled = false;
    // The test binaries of the run's build, for `Msg::Built`.
    let mut built: Vec<(PathBuf, bool)> = Vec::new();
    loop {
        let read = tokio::select! {
            r = lines.next(hold_all) => r,
            _ = &mut cancel, if !cancelled => {
                cancelled = true;
                let _ = child.terminate(GRACE).await;
                continue;
            }
        };
        let (shortened, mut spilled) = match read {
            Ok(Line::End) | Err(_) => break,
            Ok(Line::Held) => (None, None),
            Ok(Line::Shortened { line, spilled }) => (Some(line), spilled),
        };
        let held = lines.text();
        let line = shortened.as_deref().unwrap_or(&held);
        let line = line.trim_end_matches(['\n', '\r']);
        if line.is_empty() {
            continue;
        }
        let decoded = match &mut mode {
            Mode::List if is_list_line(line) => {
                list_json = Some(line.to_owned());
                continue;
            }
            Mode::List => StreamDecoder::default().decode(line),
            Mode::Run(d, _) => {
                d.learn(line);
                d.decode(line)
            }
        };
        let msg = match decoded {
            Ok(StreamLine::Artifact { executable, fresh }) => {
                built.push((executable, fresh));
                None
            }
            Ok(StreamLine::BuildFinished { success }) if matches!(mode, Mode::Run(..)) => Some(Msg::Built {
                run,
                binaries: std::mem::take(&mut built),
                success,
                at: clock.now(),
            }),
            Ok(StreamLine::Test(mut event)) => {
                // A failure's output is held to the bound; the whole of it
                // goes to the test's file.
                if let (TestEventKind::Failed { failure, .. }, Some(b)) = (&mut event.kind, &bound) {
                    b.hold(&event.binary_id, &event.name, failure, spilled.take());
                }
                to_msg(Ok(StreamLine::Test(event)), run, line, clock)
            }
            other => to_msg(other, run, line, clock),
        };
        if let Some(s) = spilled {
            // Spilled, but not a failure's output after all.
            let _ = std::fs::remove_file(s.path);
        }
        if let Some(msg) = msg {
            let _ = tx.send(msg);
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
        Mode::Run(..) => Msg::RunExited { run, exit, stderr, at },
    }
}

/// One decoded stdout line as a message; `None` for lines vigil does not
/// act on.
pub(super) fn to_msg(decoded: Result<StreamLine, LineError>, run: RunId, line: &str, clock: Clock) -> Option<Msg> {
    match decoded {
        Ok(StreamLine::Build(diagnostic)) => Some(Msg::Build { run, diagnostic }),
        Ok(StreamLine::Test(event)) => Some(Msg::Test {
            run,
            event,
            at: clock.now(),
        }),
        Ok(StreamLine::Other | StreamLine::Artifact { .. } | StreamLine::BuildFinished { .. }) => None,
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
pub(super) async fn read_tail(mut r: impl AsyncRead + Unpin, keep: usize) -> String {
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
