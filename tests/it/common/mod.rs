//! Shared helpers for the integration tests: fixture paths, recorded
//! streams, and the real `vigil` binary with a clean environment.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub fn recorded(name: &str) -> String {
    std::fs::read_to_string(fixture("streams").join(name)).expect("recorded stream exists")
}

/// This test's own vigil state (history, coverage profiles, kept listing):
/// tests share a fixture's build, never each other's results.
pub fn state_dir() -> PathBuf {
    let thread = std::thread::current();
    let name: String = thread
        .name()
        .unwrap_or("main")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("state-{}-{name}", std::process::id()))
}

/// The built `vigil` binary, without the variables nextest sets for this
/// test (they would leak into the nested nextest), with this test's own
/// state directory.
pub fn vigil() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vigil"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("NEXTEST") {
            cmd.env_remove(key);
        }
    }
    cmd.env("NO_COLOR", "1").env("VIGIL_STATE_DIR", state_dir());
    cmd
}

pub fn json_lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

pub fn events<'a>(lines: &'a [Value], kind: &str) -> Vec<&'a Value> {
    lines.iter().filter(|v| v["event"] == kind).collect()
}

use std::time::Duration;

use vigil::adapters::nextest_json::{parse_list, StreamDecoder, StreamLine};
use vigil::core::glob::Glob;
use vigil::core::model::{Rules, XfailRule};
use vigil::core::msg::ToolExit;
use vigil::core::{update, Effect, Model, Msg, Selection, Trigger};

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The rules of the `shop` fixture's vigil.toml.
pub fn shop_rules() -> Rules {
    Rules {
        xfail: vec![XfailRule {
            pattern: Glob::new("orders::checkout::rounding_*"),
            reason: String::new(),
            strict: false,
        }],
        ..Rules::default()
    }
}

/// Replays the recorded list and run of the `shop` fixture into `model`
/// (10 ms between stream lines); returns the effects of the run's end.
pub fn replay_shop(model: &mut Model) -> Vec<Effect> {
    let fx = update(
        model,
        Msg::RunRequested {
            trigger: Trigger::Manual,
            selection: Selection::All,
            at: ms(0),
        },
    );
    // A first full run lists beside the run; a later one starts on the
    // listing kept from the first (here the recorded list arrives anyway).
    // The doc lane starts beside the run.
    let doc_lane = matches!(fx.last(), Some(Effect::Doctests { .. }));
    let run = match &fx[..fx.len() - usize::from(doc_lane)] {
        [Effect::Survey { run, .. }, Effect::List { .. }, Effect::Run { run: r2, .. }] if run == r2 => *run,
        [Effect::Survey { run, .. }, Effect::Run { run: r2, .. }] if run == r2 => *run,
        other => panic!("expected a survey, a list and a run, got {other:?}"),
    };
    let suites = parse_list(&recorded("shop_list.json")).unwrap();
    let decoder = StreamDecoder::new(&suites);
    let fx = update(
        model,
        Msg::Listed {
            run,
            suites,
            at: ms(100),
        },
    );
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::Emit(r) if matches!(**r, vigil::core::Report::RunStarted { .. }))),
        "the list starts the run's report: {fx:?}"
    );
    let mut t = 100;
    for line in recorded("shop_run.jsonl").lines() {
        t += 10;
        match decoder.decode(line).unwrap() {
            StreamLine::Test(event) => {
                update(model, Msg::Test { run, event, at: ms(t) });
            }
            StreamLine::Build(d) => {
                update(model, Msg::Build { run, diagnostic: d });
            }
            StreamLine::Other | StreamLine::Artifact { .. } | StreamLine::BuildFinished { .. } => {}
        }
    }
    let fx = update(
        model,
        Msg::RunExited {
            run,
            exit: ToolExit::TestsFailed,
            stderr: String::new(),
            at: ms(t + 10),
        },
    );
    if !doc_lane {
        return fx;
    }
    // The doc lane ends after nextest here; the shop's sources hold no
    // example, so `cargo test --doc` reports nothing.
    update(
        model,
        Msg::DoctestsDone {
            run,
            error: None,
            at: ms(t + 10),
        },
    )
}

/// A model after one recorded run of the `shop` fixture.
pub fn shop_model() -> Model {
    let ws = vigil::adapters::workspace::parse_metadata(&recorded("shop_metadata.json")).unwrap();
    let mut model = Model::new(ws, shop_rules());
    replay_shop(&mut model);
    model
}

/// A copy of a fixture workspace, without its `target/`.
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        if entry.file_name() == "target" {
            continue;
        }
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

/// Live processes (not zombies, not this one, not the tmux shell waiting
/// after vigil) whose working directory or command line mentions `needle`.
/// Every live process but this one (zombies left out): its pid and its
/// `/proc` directory.
pub fn live_processes() -> Vec<(u32, PathBuf)> {
    let me = std::process::id();
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let zombie = stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
        if pid != me && !zombie {
            out.push((pid, entry.path()));
        }
    }
    out
}

pub fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (pid, dir) in live_processes() {
        let cmdline =
            String::from_utf8_lossy(&std::fs::read(dir.join("cmdline")).unwrap_or_default()).replace('\0', " ");
        if cmdline.contains("sleep 600") {
            continue;
        }
        let cwd = std::fs::read_link(dir.join("cwd")).unwrap_or_default();
        if cmdline.contains(needle) || cwd.to_string_lossy().contains(needle) {
            found.push(format!("{pid}: {cmdline}"));
        }
    }
    found
}

/// Polls until no process mentions `needle` (see `processes_mentioning`),
/// for at most five seconds; returns what is still there then.
pub fn processes_left(needle: &str) -> Vec<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let left = processes_mentioning(needle);
        if left.is_empty() || std::time::Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `git ARGS` in `dir`, with an identity and no signing, which must succeed.
pub fn git(dir: &std::path::Path, args: &[&str]) {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether LLVM tools that read this compiler's profiles are there: fails
/// with the reason under `CI=true` (CI installs llvm-22), says SKIPPED
/// otherwise.
pub fn require_llvm(workspace: &std::path::Path) -> bool {
    match vigil::adapters::llvm::discover(workspace) {
        Ok(_) => true,
        Err(why) => {
            assert!(std::env::var_os("CI").is_none(), "CI installs llvm-22 (.ci/run): {why}");
            eprintln!("SKIPPED: {why}");
            false
        }
    }
}

/// An attribute of the first `<tag …>` in a JUnit document (`None`: no such
/// tag or attribute); attribute order is the writer's own.
pub fn xml_attr(xml: &str, tag: &str, name: &str) -> Option<String> {
    let start = xml.find(&format!("<{tag} "))?;
    let head = &xml[start..start + xml[start..].find('>')?];
    let at = head.find(&format!(" {name}=\""))? + name.len() + 3;
    Some(head[at..at + head[at..].find('"')?].to_owned())
}
