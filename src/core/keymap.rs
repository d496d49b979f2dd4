//! The keys, in one table: `keys::on_key` dispatches through it, and the
//! help overlay and the README list it (a test checks the README against
//! it). A row is what the help shows; its presses are what the keys do.

use super::ui_state::{CoverageSort, Key, Tab};

/// Where a press applies. The most specific press of a key wins: the
/// coverage source over the coverage view, a view over everywhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    Always,
    In(Tab),
    /// The coverage view with a file's source open.
    CoverageSource,
}

impl When {
    /// How specific a press that applies here is (`None`: it does not).
    pub(crate) fn rank(self, tab: Tab, source_open: bool) -> Option<u8> {
        match self {
            When::Always => Some(0),
            When::In(t) => (t == tab).then_some(1),
            When::CoverageSource => (tab == Tab::Coverage && source_open).then_some(2),
        }
    }
}

/// What a key does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Down,
    Up,
    PageDown,
    PageUp,
    First,
    Last,
    Fold,
    Filter,
    FailuresOnly,
    Rerun,
    RerunAll,
    Focus,
    View(Tab),
    Sort(CoverageSort),
    CoverageDown,
    CoverageUp,
    OpenSource,
    CloseSource,
    JumpToTest,
    NextUncovered,
    PreviousUncovered,
    ServiceDown,
    ServiceUp,
    StartService,
    CycleFault,
    OpenCovered,
    Edit,
    Copy,
    AckMisses,
    Check,
    CheckAll,
    Clear,
    Help,
    Quit,
    Accept,
    AcceptAll,
}

pub struct Binding {
    /// The keys as the help shows them.
    pub keys: &'static str,
    /// What they do, as the help says it.
    pub action: &'static str,
    /// The presses behind the row.
    pub presses: &'static [(Key, When, Action)],
}

use Action as A;
use When::{Always, CoverageSource as Source, In};

/// Keys shown in the help only when the workspace uses insta.
pub const INSTA_KEYMAP: &[Binding] = &[
    Binding {
        keys: "u",
        action: "accept the selected failure's pending insta snapshot and rerun the test",
        presses: &[(Key::Char('u'), In(Tab::Tests), A::Accept)],
    },
    Binding {
        keys: "U",
        action: "accept every pending insta snapshot of the last run and rerun those tests",
        presses: &[(Key::Char('U'), In(Tab::Tests), A::AcceptAll)],
    },
];

pub const KEYMAP: &[Binding] = &[
    Binding {
        keys: "j / k / ↓ / ↑",
        action: "move the selection (scroll the detail when it has focus)",
        presses: &[
            (Key::Char('j'), Always, A::Down),
            (Key::Down, Always, A::Down),
            (Key::Char('k'), Always, A::Up),
            (Key::Up, Always, A::Up),
            (Key::Char('j'), In(Tab::Coverage), A::CoverageDown),
            (Key::Down, In(Tab::Coverage), A::CoverageDown),
            (Key::Char('k'), In(Tab::Coverage), A::CoverageUp),
            (Key::Up, In(Tab::Coverage), A::CoverageUp),
            (Key::Char('j'), In(Tab::Services), A::ServiceDown),
            (Key::Down, In(Tab::Services), A::ServiceDown),
            (Key::Char('k'), In(Tab::Services), A::ServiceUp),
            (Key::Up, In(Tab::Services), A::ServiceUp),
        ],
    },
    Binding {
        keys: "PgDn / PgUp",
        action: "move a page",
        presses: &[
            (Key::PageDown, Always, A::PageDown),
            (Key::Ctrl('d'), Always, A::PageDown),
            (Key::PageUp, Always, A::PageUp),
            (Key::Ctrl('u'), Always, A::PageUp),
        ],
    },
    Binding {
        keys: "g / G",
        action: "first / last row",
        presses: &[
            (Key::Char('g'), Always, A::First),
            (Key::Home, Always, A::First),
            (Key::Char('G'), Always, A::Last),
            (Key::End, Always, A::Last),
        ],
    },
    Binding {
        keys: "Enter",
        action: "fold or unfold the selected suite or module; in a coverage source, go to the first test that reaches the line",
        presses: &[
            (Key::Enter, Always, A::Fold),
            (Key::Enter, In(Tab::Coverage), A::OpenSource),
            (Key::Enter, Source, A::JumpToTest),
        ],
    },
    Binding {
        keys: "/",
        action: "filter by name (Enter keeps it, Esc clears it)",
        presses: &[(Key::Char('/'), Always, A::Filter)],
    },
    Binding {
        keys: "f",
        action: "failures only",
        presses: &[(Key::Char('f'), Always, A::FailuresOnly)],
    },
    Binding {
        keys: "r",
        action: "rerun the selected test, module or suite",
        presses: &[(Key::Char('r'), Always, A::Rerun)],
    },
    Binding {
        keys: "a",
        action: "rerun everything",
        presses: &[(Key::Char('a'), Always, A::RerunAll)],
    },
    Binding {
        keys: "Tab",
        action: "switch focus between the tree and the detail",
        presses: &[(Key::Tab, Always, A::Focus), (Key::BackTab, Always, A::Focus)],
    },
    Binding {
        keys: "1 / 2 / 3 / 4 / 5 / 6 / 7",
        action: "tests / coverage / budgets / history / services / timeline / checks view",
        presses: &[
            (Key::Char('1'), Always, A::View(Tab::Tests)),
            (Key::Char('2'), Always, A::View(Tab::Coverage)),
            (Key::Char('3'), Always, A::View(Tab::Budgets)),
            (Key::Char('4'), Always, A::View(Tab::History)),
            (Key::Char('5'), Always, A::View(Tab::Services)),
            (Key::Char('6'), Always, A::View(Tab::Timeline)),
            (Key::Char('7'), Always, A::View(Tab::Checks)),
        ],
    },
    Binding {
        keys: "s / d / u",
        action: "coverage view: sort files by coverage / delta / uncovered lines",
        presses: &[
            (Key::Char('s'), In(Tab::Coverage), A::Sort(CoverageSort::Coverage)),
            (Key::Char('d'), In(Tab::Coverage), A::Sort(CoverageSort::Delta)),
            (Key::Char('u'), In(Tab::Coverage), A::Sort(CoverageSort::Uncovered)),
        ],
    },
    Binding {
        keys: "n / N",
        action: "coverage source: next / previous uncovered line",
        presses: &[
            (Key::Char('n'), In(Tab::Coverage), A::NextUncovered),
            (Key::Char('N'), In(Tab::Coverage), A::PreviousUncovered),
        ],
    },
    Binding {
        keys: "s",
        action: "services view: start or restart the selected service",
        presses: &[(Key::Char('s'), In(Tab::Services), A::StartService)],
    },
    Binding {
        keys: "f",
        action: "services view: the next configured fault on the selected service's proxy (then none)",
        presses: &[(Key::Char('f'), In(Tab::Services), A::CycleFault)],
    },
    Binding {
        keys: "o",
        action: "on a test: open the coverage view at the lines it covers",
        presses: &[(Key::Char('o'), Always, A::OpenCovered)],
    },
    Binding {
        keys: "e",
        action: "open the failure's location (else the test) in $VISUAL / $EDITOR; also a coverage line or build error",
        presses: &[(Key::Char('e'), Always, A::Edit)],
    },
    Binding {
        keys: "y",
        action: "copy the selected failure (test, message, location, output) to the clipboard (OSC 52)",
        presses: &[(Key::Char('y'), Always, A::Copy)],
    },
    Binding {
        keys: "c / C",
        action: "audit the selected test, module or suite / every test (vigil check: races, state left behind, the clock, the network, leaks)",
        presses: &[
            (Key::Char('c'), In(Tab::Tests), A::Check),
            (Key::Char('C'), In(Tab::Tests), A::CheckAll),
        ],
    },
    Binding {
        keys: "x",
        action: "acknowledge the selection misses the idle sweep found",
        presses: &[(Key::Char('x'), Always, A::AckMisses)],
    },
    Binding {
        keys: "Esc",
        action: "clear the filter and failures-only",
        presses: &[(Key::Esc, Always, A::Clear), (Key::Esc, Source, A::CloseSource)],
    },
    Binding {
        keys: "?",
        action: "this help",
        presses: &[(Key::Char('?'), Always, A::Help)],
    },
    Binding {
        keys: "q / Ctrl-C",
        action: "quit (stops the run in flight)",
        presses: &[(Key::Char('q'), Always, A::Quit), (Key::Ctrl('c'), Always, A::Quit)],
    },
    Binding {
        keys: "mouse wheel",
        action: "scroll",
        presses: &[],
    },
];

/// What `key` does in `tab`: its most specific press in the table.
pub fn action(key: Key, tab: Tab, source_open: bool) -> Option<Action> {
    KEYMAP
        .iter()
        .chain(INSTA_KEYMAP)
        .flat_map(|b| b.presses)
        .filter(|(k, _, _)| *k == key)
        .filter_map(|(_, when, a)| when.rank(tab, source_open).map(|r| (r, *a)))
        .max_by_key(|(r, _)| *r)
        .map(|(_, a)| a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_specific_press_wins_and_one_key_means_one_thing_per_place() {
        assert_eq!(action(Key::Char('j'), Tab::Tests, false), Some(A::Down));
        assert_eq!(action(Key::Char('j'), Tab::Coverage, false), Some(A::CoverageDown));
        assert_eq!(action(Key::Enter, Tab::Coverage, true), Some(A::JumpToTest));
        assert_eq!(action(Key::Char('u'), Tab::Budgets, false), None);
        // No key has two presses of the same rank in one place.
        for tab in [
            Tab::Tests,
            Tab::Coverage,
            Tab::Budgets,
            Tab::History,
            Tab::Services,
            Tab::Timeline,
            Tab::Checks,
        ] {
            for source in [false, true] {
                let mut seen = std::collections::HashMap::new();
                for (k, when, a) in KEYMAP.iter().chain(INSTA_KEYMAP).flat_map(|b| b.presses) {
                    if let Some(r) = when.rank(tab, source) {
                        if let Some(other) = seen.insert((format!("{k:?}"), r), *a) {
                            assert_eq!(other, *a, "{k:?} means two things in {tab:?}");
                        }
                    }
                }
            }
        }
    }
}
