//! The one way off the loop. Work that blocks (a walk of the tree, a
//! history write, a coverage merge, a file read) runs on a named thread at
//! a chosen priority and answers the loop with a `Msg`; every thread is
//! joined before vigil exits, so nothing it was doing is cut short.
//! Things vigil keeps (files in the state directory, the history record)
//! are *keeps*: each failure is remembered, said once with the others of
//! its moment (`reap`, `settle`), and the loop is woken when a keep ends.

use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;

use super::keep::{write_atomic, NotKept};

/// How soon the work matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    /// Someone waits for it (a run's end, the source pane): the loop's own
    /// priority.
    Prompt,
    /// No result waits for it: a lower priority (nice 10), so on a busy
    /// machine the tests and nextest come first.
    Low,
}

struct Keep {
    what: String,
    path: PathBuf,
    handle: JoinHandle<Result<(), String>>,
}

/// Threads in flight off the loop.
pub(crate) struct Offload {
    tasks: Vec<JoinHandle<()>>,
    keeps: Vec<Keep>,
    failed: Vec<NotKept>,
    /// Called on a keep's thread as it ends (the engine sends itself a
    /// message, so that a failure is said without waiting for the next).
    wake: Arc<dyn Fn() + Send + Sync>,
}

impl Default for Offload {
    fn default() -> Self {
        Self::new(|| {})
    }
}

fn start<T: Send + 'static>(
    name: &str,
    priority: Priority,
    work: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<JoinHandle<T>> {
    std::thread::Builder::new()
        .name(format!("vigil-{name}"))
        .spawn(move || {
            if priority == Priority::Low {
                // SAFETY: setpriority on the calling thread (who = 0) with no
                // pointers involved; failure only leaves the priority as it was.
                unsafe {
                    libc::setpriority(libc::PRIO_PROCESS, 0, 10);
                }
            }
            work()
        })
}

impl Offload {
    pub fn new(wake: impl Fn() + Send + Sync + 'static) -> Self {
        Offload {
            tasks: Vec::new(),
            keeps: Vec::new(),
            failed: Vec::new(),
            wake: Arc::new(wake),
        }
    }

    /// Runs `work` on a thread named `vigil-<name>`; it answers the loop
    /// itself (it holds a sender). Without a thread to be had, it runs
    /// here rather than being lost.
    pub fn spawn(&mut self, name: &str, priority: Priority, work: impl FnOnce() + Send + 'static) {
        self.tasks.retain(|t| !t.is_finished());
        let slot = Arc::new(std::sync::Mutex::new(Some(work)));
        let theirs = slot.clone();
        let started = start(name, priority, move || {
            if let Some(work) = theirs.lock().ok().and_then(|mut w| w.take()) {
                work();
            }
        });
        match started {
            Ok(handle) => self.tasks.push(handle),
            Err(_) => {
                if let Some(work) = slot.lock().ok().and_then(|mut w| w.take()) {
                    work();
                }
            }
        }
    }

    /// Keeps `bytes` at `path` (whole: `write_atomic`); `what` names it for
    /// the user ("the kept run"). A newer keep of the same path waits for
    /// the one before it, so the newer content wins.
    pub fn keep(&mut self, what: &str, path: PathBuf, bytes: Vec<u8>) {
        let target = path.clone();
        self.keep_with(what, path, move || {
            write_atomic(&target, &bytes).map_err(|e| e.to_string())
        });
    }

    /// Keeps something that is not one file's bytes (a run in the history
    /// at `path`), the same way.
    pub(crate) fn keep_with(
        &mut self,
        what: &str,
        path: PathBuf,
        work: impl FnOnce() -> Result<(), String> + Send + 'static,
    ) {
        let (before, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.keeps)
            .into_iter()
            .partition(|k| k.path == path);
        self.keeps = rest;
        for k in before {
            self.join(k);
        }
        let wake = self.wake.clone();
        let started = start("keep", Priority::Low, move || {
            let done = work();
            wake();
            done
        });
        match started {
            Ok(handle) => self.keeps.push(Keep {
                what: what.to_owned(),
                path,
                handle,
            }),
            Err(e) => self.failed.push(NotKept {
                what: what.to_owned(),
                path,
                error: format!("no thread to keep it on: {e}"),
            }),
        }
    }

    fn join(&mut self, k: Keep) {
        let error = match k.handle.join() {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e,
            Err(_) => "the keeping thread panicked".to_owned(),
        };
        self.failed.push(NotKept {
            what: k.what,
            path: k.path,
            error,
        });
    }

    /// Whether a keep is still in flight.
    pub fn keeping(&self) -> bool {
        self.keeps.iter().any(|k| !k.handle.is_finished())
    }

    /// The failures of keeps that have ended, said once each (without
    /// waiting for those still in flight).
    pub(crate) fn reap(&mut self) -> Vec<NotKept> {
        let (done, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.keeps)
            .into_iter()
            .partition(|k| k.handle.is_finished());
        self.keeps = rest;
        for k in done {
            self.join(k);
        }
        std::mem::take(&mut self.failed)
    }

    /// Waits for every keep in flight; the failures not said yet.
    pub(crate) fn settle(&mut self) -> Vec<NotKept> {
        for k in std::mem::take(&mut self.keeps) {
            self.join(k);
        }
        std::mem::take(&mut self.failed)
    }

    /// Waits for everything: keeps (their failures, as `settle`) and work.
    pub(crate) fn join_all(&mut self) -> Vec<NotKept> {
        for t in std::mem::take(&mut self.tasks) {
            let _ = t.join();
        }
        self.settle()
    }
}

/// For async adapters (the doc lane's task): `work` on a named thread,
/// its answer awaited. The task that awaits it is itself joined at exit,
/// so this thread is too. `None`: it could not run or panicked.
pub async fn blocking<T: Send + 'static>(
    name: &str,
    priority: Priority,
    work: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    start(name, priority, move || {
        let _ = tx.send(work());
    })
    .ok()?;
    rx.await.ok()
}

impl Drop for Offload {
    /// Leaving without `join_all` (a panic unwinding): what was being kept
    /// still reaches the disk before the process ends.
    fn drop(&mut self) {
        for k in self.keeps.drain(..) {
            let _ = k.handle.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_runs_on_named_threads_and_every_failure_is_said_once() {
        let (tx, rx) = std::sync::mpsc::channel();
        let woken = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let w = woken.clone();
        let mut off = Offload::new(move || {
            w.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        });
        off.spawn("probe", Priority::Low, move || {
            let _ = tx.send(std::thread::current().name().map(str::to_owned));
        });
        off.keep_with("a thing", PathBuf::from("/nowhere"), || Err("refused".into()));
        off.keep_with("another", PathBuf::from("/elsewhere"), || Ok(()));
        let failed = off.join_all();
        assert_eq!(rx.recv().unwrap().as_deref(), Some("vigil-probe"));
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].to_string(), "a thing (/nowhere): refused");
        assert!(off.settle().is_empty(), "said once");
        assert_eq!(
            woken.load(std::sync::atomic::Ordering::SeqCst),
            2,
            "each keep wakes the loop"
        );
    }
}
