//! What a client of the engine asks (an editor, `vigil send`, a script on
//! the socket): read from words at the border, applied by `update` like a
//! key, answered with a `Reply` to that client alone.

use serde::Serialize;

use super::ids::ClientId;
use super::test_state::TestState;

/// A test as a client names it: nextest's binary id and the test's name,
/// or the name alone (every binary's test of that name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestSpec {
    pub binary_id: Option<String>,
    pub name: String,
}

impl TestSpec {
    fn parse(words: &[&str]) -> Result<Self, String> {
        match words {
            [name] => Ok(TestSpec {
                binary_id: None,
                name: (*name).to_owned(),
            }),
            [binary_id, name] => Ok(TestSpec {
                binary_id: Some((*binary_id).to_owned()),
                name: (*name).to_owned(),
            }),
            _ => Err("name a test: `[BINARY_ID] NAME` (e.g. `orders::checkout refund_partial`)".into()),
        }
    }
}

impl std::fmt::Display for TestSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.binary_id {
            Some(b) => write!(f, "{b} {}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Every test of the workspace.
    RunAll,
    /// The tests whose latest result is a failure.
    RerunFailed,
    /// One test (by name: every binary's test of that name).
    Rerun(TestSpec),
    /// What changes to these files affect (workspace-relative or absolute),
    /// as if the watcher had seen them.
    RunChanged(Vec<String>),
    /// Stop the run in flight (the engine keeps running).
    Cancel,
    /// Selection misses, seen: the header stops showing them.
    AckMisses,
    /// Accept the test's pending insta snapshot and rerun it.
    AcceptSnapshot(TestSpec),
    /// Select the test in the live view.
    Open(TestSpec),
    /// The tests whose maps reach a line of a file.
    Reached { file: String, line: u32 },
    /// The snapshot again (what a new client gets on connecting).
    Snapshot,
}

/// Every command as a client spells it, with its arguments, for the help
/// text and the README.
pub const COMMANDS: &[(&str, &str)] = &[
    ("run-all", "run every test"),
    ("rerun-failed", "rerun the tests whose latest result is a failure"),
    ("rerun [BINARY_ID] NAME", "rerun one test"),
    ("run-changed FILE…", "run what changes to these files affect"),
    ("cancel", "stop the run in flight"),
    ("ack-misses", "acknowledge the idle sweep's selection misses"),
    (
        "accept-snapshot [BINARY_ID] NAME",
        "accept the test's pending insta snapshot, rerun it",
    ),
    ("open [BINARY_ID] NAME", "select the test in the live view"),
    ("reached FILE LINE", "the tests whose coverage maps reach the line"),
    ("snapshot", "the state as a new client gets it"),
];

impl Command {
    /// The command's name as clients spell it.
    pub fn name(&self) -> &'static str {
        match self {
            Command::RunAll => "run-all",
            Command::RerunFailed => "rerun-failed",
            Command::Rerun(_) => "rerun",
            Command::RunChanged(_) => "run-changed",
            Command::Cancel => "cancel",
            Command::AckMisses => "ack-misses",
            Command::AcceptSnapshot(_) => "accept-snapshot",
            Command::Open(_) => "open",
            Command::Reached { .. } => "reached",
            Command::Snapshot => "snapshot",
        }
    }

    /// A command from its words (`rerun orders::checkout refund_partial`).
    pub fn parse(words: &[&str]) -> Result<Self, String> {
        let Some((first, rest)) = words.split_first() else {
            return Err("no command given".into());
        };
        let none = |c: Command| {
            if rest.is_empty() {
                Ok(c)
            } else {
                Err(format!("`{first}` takes no arguments"))
            }
        };
        match *first {
            "run-all" => none(Command::RunAll),
            "rerun-failed" => none(Command::RerunFailed),
            "cancel" => none(Command::Cancel),
            "ack-misses" => none(Command::AckMisses),
            "snapshot" => none(Command::Snapshot),
            "rerun" => TestSpec::parse(rest).map(Command::Rerun),
            "accept-snapshot" => TestSpec::parse(rest).map(Command::AcceptSnapshot),
            "open" => TestSpec::parse(rest).map(Command::Open),
            "run-changed" if rest.is_empty() => Err("`run-changed` needs the files that changed".into()),
            "run-changed" => Ok(Command::RunChanged(rest.iter().map(|s| (*s).to_owned()).collect())),
            "reached" => match rest {
                [file, line] => line
                    .parse()
                    .map(|line| Command::Reached {
                        file: (*file).to_owned(),
                        line,
                    })
                    .map_err(|_| format!("`{line}` is not a line number")),
                _ => Err("`reached` needs a file and a line: `reached src/lib.rs 12`".into()),
            },
            other => Err(format!(
                "unknown command `{other}`; the commands: {}",
                COMMANDS.iter().map(|(c, _)| *c).collect::<Vec<_>>().join(", ")
            )),
        }
    }
}

/// A test as a reply names it, with its latest state.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct TestBrief {
    pub binary_id: String,
    pub name: String,
    pub state: TestState,
    /// Its result predates a change that can affect it.
    pub stale: bool,
}

/// The answer to one command, for the client that sent it
/// (`{"event":"reply",…}` on the socket).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Reply {
    /// The client's own id for the command, echoed.
    pub id: Option<u64>,
    pub command: String,
    /// Taken (a run was asked for, the state changed, the query answered).
    pub ok: bool,
    /// What happened, for a person to read.
    pub message: String,
    /// `reached`: the tests whose maps reach the line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tests: Option<Vec<TestBrief>>,
    /// `reached`: whether any test's map measures the file at all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measured: Option<bool>,
}

/// Where a reply or the snapshot goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct To {
    pub client: ClientId,
    pub id: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_make_commands_and_bad_words_say_why() {
        assert_eq!(Command::parse(&["rerun-failed"]), Ok(Command::RerunFailed));
        assert_eq!(
            Command::parse(&["rerun", "orders::checkout", "refund_partial"]),
            Ok(Command::Rerun(TestSpec {
                binary_id: Some("orders::checkout".into()),
                name: "refund_partial".into()
            }))
        );
        assert_eq!(
            Command::parse(&["reached", "src/lib.rs", "12"]),
            Ok(Command::Reached {
                file: "src/lib.rs".into(),
                line: 12
            })
        );
        assert!(Command::parse(&["reached", "src/lib.rs", "x"])
            .unwrap_err()
            .contains("not a line number"));
        assert!(Command::parse(&["run-all", "extra"])
            .unwrap_err()
            .contains("takes no arguments"));
        assert!(Command::parse(&["frobnicate"]).unwrap_err().contains("rerun-failed"));
        assert!(Command::parse(&[]).is_err());
        assert!(Command::parse(&["run-changed"]).is_err());
        // Every documented command parses with example arguments.
        for (spelled, _) in COMMANDS {
            let words: Vec<&str> = spelled
                .split_whitespace()
                .map(|w| match w {
                    "[BINARY_ID]" => "b",
                    "NAME" => "n",
                    "FILE…" | "FILE" => "src/lib.rs",
                    "LINE" => "3",
                    w => w,
                })
                .collect();
            let c = Command::parse(&words).unwrap_or_else(|e| panic!("{spelled}: {e}"));
            assert_eq!(c.name(), words[0]);
        }
    }
}
