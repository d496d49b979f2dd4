//! When a change set is complete: how long the watcher waits for quiet
//! before it sends what it has gathered. Pure policy; the watcher adapter
//! only counts what it saw.

use std::time::Duration;

/// However long a flood lasts, a change set goes out after this.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(10);
/// A flood in progress (more than `FLOOD` paths, or new directories) is
/// likely to go on: it
/// waits for this much quiet, so a writer stalled on a busy machine does
/// not split it into two runs.
pub(crate) const FLOOD: usize = 32;
pub(crate) const FLOOD_QUIET: Duration = Duration::from_millis(600);
/// A small batch whose every write has completed (closed, renamed into
/// place, removed) — an editor's save — goes out after this much quiet
/// instead of the full debounce, so a save starts its run at once.
pub(crate) const SETTLE: Duration = Duration::from_millis(50);
/// More paths than a save touches, or a new directory: a flood (a checkout,
/// a generator) that gets the full debounce, so it stays one change set
/// even when the writer stalls on a busy machine.
pub(crate) const SMALL_BATCH: usize = 8;

/// The quiet to wait for, given the batch so far: `paths` changed, `open`
/// of them still being written, new directories seen (`grew_dirs`).
pub fn quiet(paths: usize, open: usize, grew_dirs: bool, debounce: Duration) -> Duration {
    if paths > FLOOD || grew_dirs {
        debounce.max(FLOOD_QUIET)
    } else if open == 0 && paths <= SMALL_BATCH {
        SETTLE.min(debounce)
    } else {
        debounce
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEBOUNCE: Duration = Duration::from_millis(150);

    #[test]
    fn a_completed_save_goes_out_at_once() {
        assert_eq!(quiet(1, 0, false, DEBOUNCE), SETTLE);
        assert_eq!(quiet(1, 0, false, Duration::from_millis(10)), Duration::from_millis(10));
    }

    #[test]
    fn a_save_still_being_written_waits_the_debounce() {
        assert_eq!(quiet(1, 1, false, DEBOUNCE), DEBOUNCE);
        assert_eq!(quiet(SMALL_BATCH + 1, 0, false, DEBOUNCE), DEBOUNCE);
    }

    #[test]
    fn a_flood_or_new_directories_wait_for_longer_quiet() {
        assert_eq!(quiet(FLOOD + 1, 0, false, DEBOUNCE), FLOOD_QUIET);
        assert_eq!(quiet(2, 0, true, DEBOUNCE), FLOOD_QUIET);
        assert_eq!(quiet(2, 0, true, Duration::from_secs(1)), Duration::from_secs(1));
    }
}
