//! The keys, in one place: the help overlay and the README list them from
//! here (a test checks the README against this table).

pub struct Binding {
    pub keys: &'static str,
    pub action: &'static str,
}

/// Keys shown in the help only when the workspace uses insta.
pub const INSTA_KEYMAP: &[Binding] = &[
    Binding {
        keys: "u",
        action: "accept the selected failure's pending insta snapshot and rerun the test",
    },
    Binding {
        keys: "U",
        action: "accept every pending insta snapshot of the last run and rerun those tests",
    },
];

pub const KEYMAP: &[Binding] = &[
    Binding {
        keys: "j / k / ↓ / ↑",
        action: "move the selection (scroll the detail when it has focus)",
    },
    Binding {
        keys: "PgDn / PgUp",
        action: "move a page",
    },
    Binding {
        keys: "g / G",
        action: "first / last row",
    },
    Binding {
        keys: "Enter",
        action: "fold or unfold the selected suite or module; in a coverage source, go to the first test that reaches the line",
    },
    Binding {
        keys: "/",
        action: "filter by name (Enter keeps it, Esc clears it)",
    },
    Binding {
        keys: "f",
        action: "failures only",
    },
    Binding {
        keys: "r",
        action: "rerun the selected test, module or suite",
    },
    Binding {
        keys: "a",
        action: "rerun everything",
    },
    Binding {
        keys: "Tab",
        action: "switch focus between the tree and the detail",
    },
    Binding {
        keys: "1 / 2 / 3 / 4 / 5 / 6",
        action: "tests / coverage / budgets / history / services / timeline view",
    },
    Binding {
        keys: "s / d / u",
        action: "coverage view: sort files by coverage / delta / uncovered lines",
    },
    Binding {
        keys: "s",
        action: "services view: start or restart the selected service",
    },
    Binding {
        keys: "o",
        action: "on a test: open the coverage view at the lines it covers",
    },
    Binding {
        keys: "e",
        action: "open the failure's location (else the test) in $VISUAL / $EDITOR; also a coverage line or build error",
    },
    Binding {
        keys: "y",
        action: "copy the selected failure (test, message, location, output) to the clipboard (OSC 52)",
    },
    Binding {
        keys: "x",
        action: "acknowledge the selection misses the idle sweep found",
    },
    Binding {
        keys: "Esc",
        action: "clear the filter and failures-only",
    },
    Binding {
        keys: "?",
        action: "this help",
    },
    Binding {
        keys: "q / Ctrl-C",
        action: "quit (stops the run in flight)",
    },
    Binding {
        keys: "mouse wheel",
        action: "scroll",
    },
];
