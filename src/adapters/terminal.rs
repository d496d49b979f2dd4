//! The terminal as a message source: a thread blocks on crossterm's event
//! reader and sends keys, wheel scrolls and resizes into the loop.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEventKind};
use tokio::sync::mpsc;

use super::clock::Clock;
use crate::core::{Key, Msg};

/// Set while an editor has the terminal: the reader stops reading keys.
static PAUSED: AtomicBool = AtomicBool::new(false);
/// The reader has seen `PAUSED` and is not inside a read.
static IDLE: AtomicBool = AtomicBool::new(false);

/// Pauses (or resumes) the key reader; pausing returns once it is idle
/// (at most a poll interval), so no key meant for the editor is taken.
pub(crate) fn pause(on: bool) {
    PAUSED.store(on, Ordering::SeqCst);
    if on {
        let until = std::time::Instant::now() + Duration::from_millis(400);
        while !IDLE.load(Ordering::SeqCst) && std::time::Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

pub fn spawn_reader(tx: mpsc::UnboundedSender<Msg>, clock: Clock) {
    std::thread::spawn(move || loop {
        if PAUSED.load(Ordering::SeqCst) {
            IDLE.store(true, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(20));
            if tx.is_closed() {
                return;
            }
            continue;
        }
        IDLE.store(false, Ordering::SeqCst);
        // Poll with a timeout so the thread notices a closed loop and ends.
        match event::poll(Duration::from_millis(250)) {
            Ok(true) => {}
            Ok(false) => {
                if tx.is_closed() {
                    return;
                }
                continue;
            }
            Err(_) => return,
        }
        let Ok(ev) = event::read() else { return };
        let msg = match ev {
            Event::Key(k) if k.kind != KeyEventKind::Release => {
                translate(k).map(|key| Msg::Key { key, at: clock.now() })
            }
            Event::Mouse(m) => match m.kind {
                MouseEventKind::ScrollDown => Some(Msg::Scroll { delta: 3 }),
                MouseEventKind::ScrollUp => Some(Msg::Scroll { delta: -3 }),
                _ => None,
            },
            Event::Resize(..) => Some(Msg::Tick { now: clock.now() }),
            _ => None,
        };
        if let Some(msg) = msg {
            if tx.send(msg).is_err() {
                return;
            }
        }
    });
}

pub(crate) fn translate(k: KeyEvent) -> Option<Key> {
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    Some(match k.code {
        KeyCode::Char(c) if ctrl => Key::Ctrl(c),
        KeyCode::Char(c) => Key::Char(c),
        KeyCode::Enter => Key::Enter,
        KeyCode::Esc => Key::Esc,
        KeyCode::Backspace => Key::Backspace,
        KeyCode::Up => Key::Up,
        KeyCode::Down => Key::Down,
        KeyCode::PageUp => Key::PageUp,
        KeyCode::PageDown => Key::PageDown,
        KeyCode::Home => Key::Home,
        KeyCode::End => Key::End,
        KeyCode::Tab => Key::Tab,
        KeyCode::BackTab => Key::BackTab,
        _ => return None,
    })
}
