//! Signals become messages: Ctrl-C, SIGTERM and SIGHUP stop the run in
//! flight (headless) or quit the view (interactive).

use tokio::sync::mpsc;

use crate::adapters::clock::Clock;
use crate::core::Msg;

/// Ctrl-C and SIGTERM become `Msg::Cancel` (headless) or a quit key (in the
/// interactive view, where Ctrl-C arrives as a key anyway).
pub(super) async fn forward_signals(tx: mpsc::UnboundedSender<Msg>, clock: Clock, interactive: bool) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        return;
    };
    loop {
        // SIGHUP: the terminal went away; stop as cleanly as for Ctrl-C.
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
            _ = hup.recv() => {}
        }
        let at = clock.now();
        let msg = if interactive {
            Msg::Key {
                key: crate::core::Key::Ctrl('c'),
                at,
            }
        } else {
            Msg::Cancel { at }
        };
        if tx.send(msg).is_err() {
            return;
        }
    }
}
