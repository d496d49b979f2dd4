//! End to end in tmux: the real binary in a real terminal, driven with
//! send-keys and read with capture-pane. Checks the screen, the exit code,
//! that the terminal is usable afterwards, and that no process is left.

use crate::common;

use common::processes_left;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

struct Tmux {
    socket: String,
}

impl Tmux {
    /// A private tmux server running `command` in a 120×35 window; `None`
    /// (with the reason printed) when tmux is missing outside CI.
    fn start(name: &str, command: &str) -> Option<Self> {
        if Command::new("tmux").arg("-V").output().is_err() {
            assert!(
                std::env::var_os("CI").is_none(),
                "tmux must be installed in CI (.ci/run installs it)"
            );
            eprintln!("SKIPPED: tmux is not installed; install it to run the terminal tests");
            return None;
        }
        let t = Tmux {
            socket: format!("vigil-{name}-{}", std::process::id()),
        };
        let out = t.run(&["new-session", "-d", "-s", "v", "-x", "120", "-y", "35", command]);
        assert!(
            out.status.success(),
            "tmux starts: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(t)
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .env_remove("TMUX")
            .output()
            .unwrap()
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-J", "-t", "v"]).stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            self.run(&["send-keys", "-t", "v", k]);
            std::thread::sleep(Duration::from_millis(80));
        }
    }

    fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let screen = self.screen();
            if pred(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
    }
}

/// The shell line tmux runs: vigil without nextest's variables, then its
/// exit code and the terminal's settings once it has ended.
fn shell_line(env: &str, args: &str) -> String {
    let unset: String = std::env::vars()
        .filter(|(k, _)| k.starts_with("NEXTEST"))
        .map(|(k, _)| format!(" -u {k}"))
        .collect();
    format!(
        "cd {}; env{unset} VIGIL_STATE_DIR={} {env} {} {args}; echo EXITED:$?; stty -a | tr '\\n' ' '; echo; sleep 600",
        env!("CARGO_TARGET_TMPDIR"),
        common::state_dir().display(),
        env!("CARGO_BIN_EXE_vigil")
    )
}

fn assert_terminal_restored(screen: &str, code: &str) {
    assert!(
        screen.contains(&format!("EXITED:{code}")),
        "exit code {code}:\n{screen}"
    );
    let stty = screen
        .lines()
        .find(|l| l.contains("speed"))
        .unwrap_or_else(|| panic!("stty output:\n{screen}"));
    assert!(
        stty.contains(" icanon") && !stty.contains("-icanon"),
        "raw mode is off: {stty}"
    );
    assert!(
        stty.contains(" echo ") && !stty.contains("-echo "),
        "echo is back: {stty}"
    );
    assert!(!screen.contains("┌ Tests"), "the alternate screen is gone:\n{screen}");
}

fn demo_dirs() -> Vec<PathBuf> {
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("vigil-demo-"))
        })
        .collect()
}

#[test]
fn demo_runs_filters_reruns_one_test_and_quits_cleanly() {
    let before = demo_dirs();
    let Some(tmux) = Tmux::start("demo", &shell_line("", "--demo")) else {
        return;
    };
    let screen = tmux.wait_for("the first run to finish", |s| s.contains("run 1 · manual · failed"));
    assert!(
        screen.contains("✗ orders::checkout"),
        "the failing suite comes first:\n{screen}"
    );
    assert!(
        screen.contains("refund_partial") && screen.contains("x rounding_known_bug"),
        "{screen}"
    );
    let dirs: Vec<PathBuf> = demo_dirs().into_iter().filter(|d| !before.contains(d)).collect();
    assert_eq!(dirs.len(), 1, "the demo lives in a temporary directory");

    tmux.keys(&["/", "refund", "Enter"]);
    let screen = tmux.wait_for("the filter", |s| s.contains("filter: refund"));
    assert!(
        screen.contains("refund_partial") && !screen.contains("slow_rounding"),
        "{screen}"
    );

    tmux.keys(&["j", "r"]);
    let screen = tmux.wait_for("the rerun to finish", |s| s.contains("run 2 · key · failed"));
    assert!(
        screen.contains("why: rerun of orders::checkout refund_partial (key r)"),
        "{screen}"
    );
    tmux.keys(&["Escape"]);
    let screen = tmux.wait_for("the filter to clear", |s| !s.contains("filter: refund"));
    let money = screen
        .lines()
        .find(|l| l.contains("✓ money "))
        .unwrap_or_else(|| panic!("{screen}"));
    assert!(
        money.contains("kept 1"),
        "suites not rerun keep run 1's results:\n{screen}"
    );

    tmux.keys(&["q"]);
    // The terminal's settings are printed just after the exit code.
    let screen = tmux.wait_for("vigil to exit", |s| s.contains("EXITED:") && s.contains("speed"));
    assert_terminal_restored(&screen, "0");
    let left = processes_left("vigil-demo-");
    assert!(left.is_empty(), "no process is left: {left:?}");
    for d in dirs {
        assert!(!d.exists(), "the demo copy {} is removed", d.display());
    }
}

#[test]
fn a_panic_restores_the_terminal_and_leaves_no_process() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
    let line = shell_line("VIGIL_TEST_PANIC=1 RUST_BACKTRACE=0", &demo.display().to_string());
    let Some(tmux) = Tmux::start("panic", &line) else {
        return;
    };
    // Panic while tests run, so there are processes to clean up.
    tmux.wait_for("tests to be running", |s| s.contains(" running "));
    tmux.keys(&["!"]);
    // The terminal's settings are printed just after the exit code.
    let screen = tmux.wait_for("vigil to exit", |s| s.contains("EXITED:") && s.contains("speed"));
    assert!(
        screen.contains("panic requested with VIGIL_TEST_PANIC"),
        "the panic is shown:\n{screen}"
    );
    assert_terminal_restored(&screen, "101");
    let left = processes_left(&demo.display().to_string());
    assert!(left.is_empty(), "no process is left: {left:?}");
}

/// A panic also stops the services vigil started (and runs nothing else).
#[test]
fn a_panic_stops_the_service_vigil_started() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let svc = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/svc");
    let cfg = common::state_dir().join("panic-service.toml");
    std::fs::create_dir_all(cfg.parent().unwrap()).unwrap();
    std::fs::write(
        &cfg,
        format!(
            "[coverage]\nmode = \"off\"\n[[service]]\nname = \"bridge\"\ncheck = \"tcp://127.0.0.1:{port}\"\n\
             needed_by = \"binary_id(svc::bridge)\"\nstart = [\"python3\", \"service.py\", \"{port}\"]\n"
        ),
    )
    .unwrap();
    let line = shell_line(
        &format!("VIGIL_TEST_PANIC=1 RUST_BACKTRACE=0 SVC_PORT={port}"),
        &format!("{} --config {}", svc.display(), cfg.display()),
    );
    let Some(tmux) = Tmux::start("panic-service", &line) else {
        return;
    };
    tmux.wait_for("the first run to finish", |s| s.contains("run 1 · manual · passed"));
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        "vigil started the service"
    );
    tmux.keys(&["!"]);
    // The terminal's settings are printed just after the exit code.
    let screen = tmux.wait_for("vigil to exit", |s| s.contains("EXITED:") && s.contains("speed"));
    assert_terminal_restored(&screen, "101");
    let left = processes_left(&format!("service.py {port}"));
    assert!(left.is_empty(), "no service is left: {left:?}");
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

/// An editor stand-in: a script called `name` that records its arguments.
fn editor_script(dir: &Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).unwrap();
    let args = dir.join(format!("{name}.args"));
    let script = dir.join(name);
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$@\" >> '{}'\nsleep 0.3\n", args.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (script, args)
}

/// `e` on the failed test: a terminal editor (here "vim") gets `+LINE
/// file` and the terminal, and the view comes back as it was; a GUI one
/// ("code") gets `--goto file:line` and is not waited for. `y` copies the
/// failure through OSC 52, which tmux (`set-clipboard on`) takes into its
/// buffer.
#[test]
fn e_opens_the_failure_in_the_editor_and_y_copies_it() {
    let shop = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/shop");
    let dir = common::state_dir().join("editors");
    let (vim, vim_args) = editor_script(&dir, "vim");
    let (code, code_args) = editor_script(&dir, "code");
    let line = shell_line(
        &format!("VISUAL= EDITOR={}", vim.display()),
        &shop.display().to_string(),
    );
    let Some(tmux) = Tmux::start("editor", &line) else {
        return;
    };
    tmux.run(&["set-option", "-g", "set-clipboard", "on"]);
    tmux.wait_for("the run to finish", |s| s.contains("run 1 · manual · failed"));
    tmux.keys(&["e"]);
    let screen = tmux.wait_for("vigil to come back", |s| s.contains("back from"));
    assert!(screen.contains("refund_partial"), "the view is as it was:\n{screen}");
    let args = std::fs::read_to_string(&vim_args).unwrap();
    assert_eq!(
        args.trim(),
        format!("+11 {}", shop.join("orders/tests/checkout.rs").display())
    );

    tmux.keys(&["y"]);
    tmux.wait_for("the copy", |s| s.contains("copied orders::checkout refund_partial"));
    let buffer = String::from_utf8_lossy(&tmux.run(&["show-buffer"]).stdout).into_owned();
    assert!(
        buffer.starts_with("orders::checkout refund_partial\nat orders/tests/checkout.rs:11:5"),
        "{buffer}"
    );
    assert!(buffer.contains("refund must keep the fee"));
    tmux.keys(&["q"]);
    tmux.wait_for("vigil to exit", |s| s.contains("EXITED:"));

    // A GUI editor: not waited for.
    let line = shell_line(&format!("VISUAL={}", code.display()), &shop.display().to_string());
    let Some(tmux) = Tmux::start("gui-editor", &line) else {
        return;
    };
    tmux.wait_for("the run to finish", |s| s.contains("run 1 · manual · failed"));
    tmux.keys(&["e"]);
    tmux.wait_for("the editor to be started", |s| {
        s.contains("opened") && s.contains("in ")
    });
    let until = std::time::Instant::now() + Duration::from_secs(5);
    while !code_args.exists() && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    let args = std::fs::read_to_string(&code_args).unwrap();
    assert_eq!(
        args.trim(),
        format!("--goto {}:11", shop.join("orders/tests/checkout.rs").display())
    );
    tmux.keys(&["q"]);
    tmux.wait_for("vigil to exit", |s| s.contains("EXITED:0"));
}

/// insta end to end: a stale snapshot fails with a pending `.snap.new`;
/// the detail shows insta's diff, `u` moves it into place and reruns the
/// test, which passes.
#[test]
fn u_accepts_a_pending_insta_snapshot_and_the_test_passes() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/snaps");
    let ws = common::state_dir().join("snaps-ws");
    let _ = std::fs::remove_dir_all(&ws);
    common::copy_dir(&fixture, &ws);
    let cfg = common::state_dir().join("snaps.toml");
    std::fs::write(&cfg, "[coverage]\nmode = \"off\"\n").unwrap();
    // The fixture's own build serves the copy's dependencies.
    let line = shell_line(
        &format!("CARGO_TARGET_DIR={} INSTA_UPDATE=new", fixture.join("target").display()),
        &format!("{} --config {}", ws.display(), cfg.display()),
    );
    let Some(tmux) = Tmux::start("insta", &line) else {
        return;
    };
    tmux.wait_for("the run to fail", |s| s.contains("run 1 · manual · failed"));
    let pending = ws.join("src/snapshots/snaps__tests__greets.snap.new");
    assert!(pending.exists(), "insta left a pending snapshot");
    tmux.keys(&["?"]);
    let help = tmux.wait_for("the help", |s| s.contains(" keys "));
    assert!(
        help.contains("accept the selected failure's pending insta snapshot"),
        "{help}"
    );
    tmux.keys(&["Escape", "j", "j"]);
    let screen = tmux.wait_for("the snapshot diff", |s| {
        s.contains("snapshot src/snapshots/snaps__tests__greets.snap")
    });
    assert!(
        screen.contains("Have a good day.") && screen.contains("Have a nice day."),
        "{screen}"
    );
    tmux.keys(&["u"]);
    // The rerun (run 2), or the watcher's run for the changed `.snap`
    // that restarts it, passes.
    tmux.wait_for("the rerun to pass", |s| {
        s.contains(" · passed") && !s.contains("run 1 ")
    });
    let snap = std::fs::read_to_string(ws.join("src/snapshots/snaps__tests__greets.snap")).unwrap();
    assert!(snap.contains("Have a nice day."), "{snap}");
    assert!(!pending.exists());
    tmux.keys(&["q"]);
    tmux.wait_for("vigil to exit", |s| s.contains("EXITED:0"));
}

/// `vigil send rerun-failed` from another shell reruns exactly the failed
/// tests in the running view, and `vigil status` reads it.
#[test]
fn vigil_send_rerun_failed_reruns_exactly_the_failed_tests_in_the_running_view() {
    let shop = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/shop");
    let _ = std::fs::remove_dir_all(common::state_dir());
    let Some(tmux) = Tmux::start("send", &shell_line("", &shop.display().to_string())) else {
        return;
    };
    tmux.wait_for("the run to finish", |s| s.contains("run 1 · manual · failed"));
    let out = common::vigil()
        .args(["send", "-C"])
        .arg(&shop)
        .arg("rerun-failed")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(said.trim(), "rerunning 1 failed test");
    tmux.wait_for("the rerun to finish", |s| s.contains("run 2 · client · failed"));
    // What run 2 ran, from the run vigil kept.
    let kept = common::state_dir().join("last-run.jsonl");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let lines = loop {
        let lines = common::json_lines(&std::fs::read(&kept).unwrap_or_default());
        if common::events(&lines, "run_finished").iter().any(|v| v["run"] == 2) {
            break lines;
        }
        assert!(std::time::Instant::now() < deadline, "run 2 was never kept");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let started = common::events(&lines, "run_started")[0];
    assert_eq!(
        (started["trigger"].as_str(), started["selected"]["tests"].as_u64()),
        (Some("client"), Some(1))
    );
    let ran: Vec<&str> = common::events(&lines, "test")
        .iter()
        .filter(|v| v["to"] == "running")
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(ran, ["refund_partial"]);
    let out = common::vigil().arg("status").arg(&shop).output().unwrap();
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(
        status.starts_with("✓ 6 ✗ 1 · ") && status.trim().ends_with("· run 2"),
        "{status}"
    );
    tmux.keys(&["q"]);
    // The terminal's settings are printed just after the exit code.
    let screen = tmux.wait_for("vigil to exit", |s| s.contains("EXITED:") && s.contains("speed"));
    assert_terminal_restored(&screen, "0");
}

/// `c` on a test audits it with `vigil check` (a process of its own) and
/// its detail shows the finding.
#[test]
fn c_checks_the_selected_test_and_its_detail_names_the_race() {
    let base = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("tui-check-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let root = base.join("trust");
    common::copy_dir(&common::fixture("trust"), &root);
    // Outside the workspace: what the tests leave there is not a change.
    let tmp = base.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let line = shell_line(
        &format!("TMPDIR={} TRUST_SERVICE_PORT=9", tmp.display()),
        &root.display().to_string(),
    );
    let Some(tmux) = Tmux::start("check", &line) else {
        return;
    };
    // Its state test leaves a marker in the package: a second run follows.
    tmux.wait_for("a run to finish", |s| s.contains(" · failed"));
    tmux.keys(&["/"]);
    tmux.keys(&["races_on_one_file_a", "Enter"]);
    tmux.wait_for("the filter", |s| s.contains("filter: races_on_one_file_a"));
    tmux.keys(&["j", "j"]);
    tmux.wait_for("the test selected", |s| s.contains("› races_on_one_file_a"));
    tmux.keys(&["c"]);
    let screen = tmux.wait_for("the check to end", |s| {
        s.contains("check of trust::race races_on_one_file_a:")
    });
    assert!(screen.contains("1 finding"), "{screen}");
    assert!(
        screen.contains("race 1") || screen.contains("  race "),
        "the finding in the detail:\n{screen}"
    );
    assert!(screen.contains("none of") && screen.contains("alone"), "{screen}");
    tmux.keys(&["q"]);
    // The terminal's settings are printed just after the exit code.
    let screen = tmux.wait_for("vigil to exit", |s| s.contains("EXITED:") && s.contains("speed"));
    assert_terminal_restored(&screen, "0");
    let left = common::processes_left(&root.display().to_string());
    assert!(left.is_empty(), "left running: {left:?}");
    let _ = std::fs::remove_dir_all(&base);
}
