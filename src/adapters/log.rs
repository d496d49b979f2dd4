//! vigil's own log: `target/vigil/vigil.log` in the watched workspace,
//! through `tracing` (call sites write `tracing::info!`) and a file
//! appender that writes off the loop. The interactive view never prints
//! while the terminal is raw; what is worth keeping goes here.

use std::path::Path;

/// Keeps the log's writer alive; dropping it flushes what is queued.
pub struct LogGuard(#[allow(dead_code)] Option<tracing_appender::non_blocking::WorkerGuard>);

impl LogGuard {
    /// No log (a recording engine, a log that could not be opened).
    pub fn none() -> Self {
        LogGuard(None)
    }
}

/// Starts logging to `target/vigil/vigil.log` under `target_dir`, once per
/// process (a second engine in the same process logs where the first
/// does). A log that cannot be opened is off: it must never stop a run.
pub fn init(target_dir: &Path) -> LogGuard {
    let dir = super::state_dir(target_dir);
    let Ok(appender) = tracing_appender::rolling::RollingFileAppender::builder()
        .rotation(tracing_appender::rolling::Rotation::NEVER)
        .filename_prefix("vigil.log")
        .build(&dir)
    else {
        return LogGuard::none();
    };
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let subscriber = tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_target(false)
        .finish();
    match tracing::subscriber::set_global_default(subscriber) {
        Ok(()) => LogGuard(Some(guard)),
        Err(_) => LogGuard::none(),
    }
}
