//! Hard faults end to end with the real binary: vigil killed with SIGKILL
//! mid-run leaves no process behind (nextest, its tests and what they
//! started, the doc lane, a started service), and a child started from a
//! thread that then ended lives on.

use crate::common;

use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{fixture, require_llvm, state_dir, vigil};

/// Live processes (not zombies) whose environment holds `marker`, with
/// their command lines.
fn marked(marker: &str) -> Vec<(u32, String, String)> {
    let mut found = Vec::new();
    for (pid, dir) in common::live_processes() {
        let env = std::fs::read(dir.join("environ")).unwrap_or_default();
        let env = String::from_utf8_lossy(&env).replace('\0', "\n");
        if env.lines().any(|l| l == marker) {
            let cmdline =
                String::from_utf8_lossy(&std::fs::read(dir.join("cmdline")).unwrap_or_default()).replace('\0', " ");
            found.push((pid, cmdline.trim().to_owned(), env));
        }
    }
    found
}

fn kill(pid: u32, signal: i32) {
    // SAFETY: signalling a process this test started.
    unsafe {
        libc::kill(pid as i32, signal);
    }
}

#[test]
fn sigkill_mid_run_leaves_no_process_of_the_run() {
    let ws = fixture("orphans");
    if !require_llvm(&ws) {
        return;
    }
    let state = state_dir();
    std::fs::create_dir_all(&state).unwrap();
    let up = state.join("service-up");
    let _ = std::fs::remove_file(&up);
    let config = state.join("vigil.toml");
    // Defaults (coverage, test-level selection, the doc lane) and a
    // service that is down until vigil starts it: its start command is a
    // shell that starts a process of its own.
    std::fs::write(
        &config,
        format!(
            "[[service]]\nname = \"napper\"\ncheck = {{ command = [\"test\", \"-e\", \"{up}\"] }}\n\
             needed_by = \"test(sleeps)\"\nstart = \"touch '{up}'; sleep 62; true\"\ninterval = \"300ms\"\n",
            up = up.display()
        ),
    )
    .unwrap();
    let marker = format!("VIGIL_HARD_FAULT_TEST={}", std::process::id());
    let (key, value) = marker.split_once('=').unwrap();
    let mut child = vigil()
        .arg("run")
        .arg(&ws)
        .args(["--format", "json", "--config"])
        .arg(&config)
        .env(key, value)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Everything is in flight: the tests, the test's own child, the
    // doctest (rustdoc marks its processes), the service and its sleep.
    let wanted = |procs: &[(u32, String, String)]| {
        let has = |f: &dyn Fn(&(u32, String, String)) -> bool| procs.iter().any(f);
        has(&|p| p.1.contains("starts_a_grandchild") && !p.1.contains("--list"))
            && has(&|p| p.1 == "sleep 61")
            && has(&|p| p.1 == "sleep 62")
            && has(&|p| p.1.ends_with("/rust_out"))
            && has(&|p| p.1.contains("nextest"))
    };
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let procs = marked(&marker);
        if wanted(&procs) {
            break;
        }
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            kill(child.id(), libc::SIGKILL);
            let _ = child.wait();
            let names: Vec<_> = procs.iter().map(|p| p.1.clone()).collect();
            panic!("the run never had everything in flight; running: {names:#?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let before = marked(&marker).len();
    kill(child.id(), libc::SIGKILL);
    child.wait().unwrap();
    let killed = Instant::now();
    let mut left = marked(&marker);
    while !left.is_empty() && killed.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(100));
        left = marked(&marker);
    }
    for p in &left {
        kill(p.0, libc::SIGKILL);
    }
    let names: Vec<_> = left.iter().map(|p| p.1.clone()).collect();
    assert!(
        left.is_empty(),
        "{} of the run's {before} processes outlived vigil by 5 s: {names:#?}",
        left.len()
    );
}

/// The parent-death signal belongs to the thread that started a child:
/// the guard tells a thread's end (vigil lives) from vigil's, and keeps
/// the child.
#[test]
fn a_child_started_from_a_thread_that_ended_lives_on() {
    vigil::adapters::process::use_guard(env!("CARGO_BIN_EXE_vigil").into());
    std::fs::create_dir_all(state_dir()).unwrap();
    let mark = state_dir().join("lives");
    let _ = std::fs::remove_file(&mark);
    let script = format!("sleep 1.5; touch '{}'; sleep 30", mark.display());
    let spawner = std::thread::spawn(move || {
        vigil::adapters::process::guarded_std("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap()
    });
    let mut child = spawner.join().unwrap();
    // The thread is gone; the guard got its signal and must carry on.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !mark.exists() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the guarded child died with the thread that started it"
        );
        assert!(Instant::now() < deadline, "the child never got to its mark");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(child.try_wait().unwrap().is_none(), "still running after its mark");
    // Asked to stop, the guard passes the exit on (killed by SIGTERM).
    // SAFETY: signalling the group of a process this test started.
    unsafe {
        libc::killpg(child.id() as i32, libc::SIGTERM);
    }
    let status = child.wait().unwrap();
    assert!(!status.success(), "a terminated child does not pass: {status:?}");
}

/// `vigil run` then at once `vigil report --junit`, the README's flow: the
/// report describes the run that just ended, every time.
#[test]
fn a_report_right_after_a_run_describes_that_run_every_time() {
    let state = state_dir();
    std::fs::create_dir_all(&state).unwrap();
    let config = state.join("vigil.toml");
    // The kept run is what is raced, not coverage: keep each run short.
    std::fs::write(&config, "[coverage]\nmode = \"off\"\n\n[lanes]\ndoc = false\n").unwrap();
    let junit = state.join("junit.xml");
    let kept = state.join("last-run.jsonl");
    for round in 0..20 {
        let out = vigil()
            .arg("run")
            .arg(fixture("ledger"))
            .args(["--format", "json", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "round {round}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let said = String::from_utf8_lossy(&out.stdout)
            .lines()
            .find(|l| l.contains("\"event\":\"run_finished\""))
            .expect("a run_finished line")
            .to_owned();
        let report = vigil()
            .arg("report")
            .arg(fixture("ledger"))
            .arg("--junit")
            .arg(&junit)
            .output()
            .unwrap();
        assert!(
            report.status.success(),
            "round {round}: {}",
            String::from_utf8_lossy(&report.stderr)
        );
        let lines = std::fs::read_to_string(&kept).unwrap();
        assert!(
            lines.lines().any(|l| l == said),
            "round {round}: the kept run is not the run that just ended:\n{said}\nkept:\n{lines}"
        );
        let xml = std::fs::read_to_string(&junit).unwrap();
        let totals = |a| common::xml_attr(&xml, "testsuites", a);
        assert_eq!(
            (totals("tests"), totals("failures")),
            (Some("1".into()), Some("0".into())),
            "round {round}: {xml}"
        );
        let leftovers: Vec<_> = std::fs::read_dir(&state)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(
            leftovers.is_empty(),
            "round {round}: temporary files left: {leftovers:?}"
        );
    }
}

/// With the state directory on a full filesystem (a small tmpfs mounted in
/// a mount namespace of this test's own, so the machine's mounts stay as
/// they are), a run's results are shown and gated as usual, one warning
/// names what could not be kept, and the next run, with room again, finds
/// the history intact.
#[test]
fn a_full_disk_keeps_the_results_and_the_history() {
    let ws = fixture("ledger");
    if !require_llvm(&ws) {
        return;
    }
    if std::process::Command::new("unshare").arg("--version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "CI has util-linux's unshare");
        eprintln!("SKIPPED: `unshare` is not installed (util-linux)");
        return;
    }
    let dir = state_dir();
    let _ = std::fs::remove_dir_all(&dir);
    let state = dir.join("full");
    std::fs::create_dir_all(&state).unwrap();
    let script = r#"
        mount -t tmpfs -o size=16m tmpfs "$VIGIL_STATE_DIR" || exit 90
        "$VIGIL" run "$FIX" --format json > out1.json 2> err1.txt; echo $? > code1
        dd if=/dev/zero of="$VIGIL_STATE_DIR/filler" bs=64k 2> /dev/null
        "$VIGIL" run "$FIX" --format json > out2.json 2> err2.txt; echo $? > code2
        rm -f "$VIGIL_STATE_DIR/filler"
        "$VIGIL" run "$FIX" --format json > out3.json 2> err3.txt; echo $? > code3
        cp "$VIGIL_STATE_DIR"/history.sqlite* "$VIGIL_STATE_DIR"/last-run.jsonl .
    "#;
    let out = std::process::Command::new("unshare")
        .args(["-Urm", "sh", "-c", script])
        .current_dir(&dir)
        .env("VIGIL", env!("CARGO_BIN_EXE_vigil"))
        .env("FIX", &ws)
        .env("VIGIL_STATE_DIR", &state)
        .env("NO_COLOR", "1")
        .env_remove("NEXTEST_TEST_NAME")
        .env_remove("NEXTEST_BINARY_ID")
        .output()
        .unwrap();
    if !out.status.success() {
        // No user namespaces here (a container's seccomp policy, a
        // sysctl): the test cannot have its own mount.
        eprintln!(
            "SKIPPED: a mount namespace of the test's own cannot be had here (`unshare -Urm` exited {:?}): {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        return;
    }
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    let lines = |name: &str| common::json_lines(read(name).as_bytes());
    for round in ["1", "2", "3"] {
        assert_eq!(
            read(&format!("code{round}")).trim(),
            "0",
            "run {round} passes its gate: {}",
            read(&format!("err{round}.txt"))
        );
        let l = lines(&format!("out{round}.json"));
        let fin = common::events(&l, "run_finished");
        assert_eq!(fin.len(), 1, "run {round} says its results");
        assert_eq!(fin[0]["tests"]["passed"], 1, "run {round}");
        assert!(
            !read(&format!("err{round}.txt")).contains("panicked"),
            "{}",
            read(&format!("err{round}.txt"))
        );
    }
    let full = lines("out2.json");
    let warnings: Vec<String> = common::events(&full, "warning")
        .iter()
        .map(|w| w["message"].as_str().unwrap().to_owned())
        .collect();
    let not_kept: Vec<&String> = warnings.iter().filter(|w| w.contains("could not keep")).collect();
    assert_eq!(not_kept.len(), 1, "one warning for what was not kept: {warnings:#?}");
    assert!(
        not_kept[0].contains("in the history") && not_kept[0].contains("the kept run"),
        "{}",
        not_kept[0]
    );
    assert!(not_kept[0].contains("No space left on device") || not_kept[0].contains("full"));
    for round in ["1", "3"] {
        let l = lines(&format!("out{round}.json"));
        assert!(
            common::events(&l, "warning").is_empty(),
            "run {round}: {:?}",
            common::events(&l, "warning")
        );
    }
    // The history holds the runs that had room, and nothing half-written.
    let (store, note) = vigil::adapters::store::Store::open(&dir.join("history.sqlite")).unwrap();
    assert!(note.is_none(), "{note:?}");
    assert_eq!(store.recent_runs(10).unwrap().len(), 2);
    let kept = read("last-run.jsonl");
    assert_eq!(
        common::events(&common::json_lines(kept.as_bytes()), "run_finished")[0]["run"],
        lines("out3.json").last().unwrap()["run"]
    );
}

/// A test that prints 50 MB: vigil holds its head and tail (`output.max`,
/// 1 MB unless set) in the JSON, the kept run and JUnit, and the whole of
/// it in a file the JSON names.
#[test]
fn fifty_megabytes_of_output_are_held_to_the_bound_and_kept_whole_in_a_file() {
    let ws = fixture("loud");
    let state = state_dir();
    let _ = std::fs::remove_dir_all(&state);
    std::fs::create_dir_all(&state).unwrap();
    for (max, bound) in [(None, 1usize << 20), (Some("\"64KB\""), 64 << 10)] {
        let config = state.join("vigil.toml");
        let mut text = "[coverage]\nmode = \"off\"\n".to_owned();
        if let Some(m) = max {
            text.push_str(&format!("\n[output]\nmax = {m}\n"));
        }
        std::fs::write(&config, text).unwrap();
        let out = vigil()
            .arg("run")
            .arg(&ws)
            .args(["--format", "json", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let longest = stdout.lines().map(str::len).max().unwrap_or(0);
        assert!(
            longest < bound + 64 * 1024,
            "a JSON line of {longest} bytes (bound {bound})"
        );
        let lines = common::json_lines(&out.stdout);
        let failed = common::events(&lines, "test")
            .into_iter()
            .find(|t| t["to"] == "failed")
            .expect("the loud test failed")
            .clone();
        let held = failed["output"].as_str().unwrap();
        assert!(held.len() <= bound, "{} bytes held, bound {bound}", held.len());
        assert!(
            held.starts_with("000000000 \"quoted\" \\ tab\t é ✓"),
            "{:?}",
            &held[..60]
        );
        assert!(held.contains("cut here"), "the cut is said");
        assert!(held.contains("panicked at"), "the tail keeps the panic");
        assert!(
            failed["message"].as_str().unwrap().contains("printed"),
            "{}",
            failed["message"]
        );
        let file = failed["output_file"].as_str().expect("output_file");
        let whole = std::fs::read(file).unwrap();
        assert_eq!(failed["output_bytes"].as_u64(), Some(whole.len() as u64));
        assert!(whole.len() > 50 << 20, "{} bytes kept", whole.len());
        let whole = String::from_utf8(whole).expect("the whole output is the test's text");
        assert!(whole.starts_with("000000000 \"quoted\" \\ tab\t é ✓ the quick"));
        assert!(whole.contains("\n000400000 \"quoted\" \\ tab\t é ✓ the quick"));
        assert!(whole.contains("panicked at"));
        // The kept run and JUnit hold the bounded text too.
        let kept = std::fs::metadata(state.join("last-run.jsonl")).unwrap().len() as usize;
        assert!(kept < 2 * bound + 64 * 1024, "the kept run is {kept} bytes");
        let junit = state.join("junit.xml");
        let report = vigil()
            .arg("report")
            .arg(&ws)
            .arg("--junit")
            .arg(&junit)
            .output()
            .unwrap();
        assert!(report.status.success(), "{}", String::from_utf8_lossy(&report.stderr));
        let xml = std::fs::read_to_string(&junit).unwrap();
        // The held text twice (the failure's body and its system-out),
        // escaped: never the whole.
        assert!(xml.len() < 3 * bound + 64 * 1024, "JUnit is {} bytes", xml.len());
        assert!(xml.contains("cut here"));
    }
}

/// `history.keep`: the history holds the last N runs, pruned as it opens.
#[test]
fn the_history_keeps_what_history_keep_says() {
    let state = state_dir();
    let _ = std::fs::remove_dir_all(&state);
    std::fs::create_dir_all(&state).unwrap();
    let config = state.join("vigil.toml");
    std::fs::write(
        &config,
        "[coverage]\nmode = \"off\"\n\n[lanes]\ndoc = false\n\n[history]\nkeep = 3\n",
    )
    .unwrap();
    for _ in 0..5 {
        let out = vigil()
            .arg("run")
            .arg(fixture("ledger"))
            .arg("--config")
            .arg(&config)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    }
    // Five recorded, three kept.
    let (store, _) = vigil::adapters::store::Store::open(&state.join("history.sqlite")).unwrap();
    let ids: Vec<i64> = store.recent_runs(10).unwrap().iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![3, 4, 5]);
}

/// A test's coverage profile cut short after it was written: the run's
/// results stand, coverage is read from the other profiles, and the
/// warning names the test whose profile could not be read.
#[test]
fn a_corrupt_profile_leaves_the_results_and_says_what_coverage_could_not_read() {
    let ws = fixture("mangled");
    if !require_llvm(&ws) {
        return;
    }
    let out = vigil().arg("run").arg(&ws).args(["--format", "json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let lines = common::json_lines(&out.stdout);
    let fin = common::events(&lines, "run_finished")[0];
    assert_eq!(fin["tests"]["passed"], 2, "{fin}");
    let warnings = fin["warnings"].as_array().unwrap();
    assert!(
        warnings.iter().any(|w| {
            let w = w.as_str().unwrap();
            w.contains("could not read")
                && w.contains("mangled › cuts_its_own_profile_short")
                && w.contains("truncated")
        }),
        "{warnings:?}"
    );
    let lines_covered = fin["coverage"]["lines"]["covered"]
        .as_u64()
        .expect("coverage from the other profile");
    assert!(lines_covered > 0, "{fin}");
}

/// The guard's child starts with no signal blocked (the guard blocks the
/// ones it waits for, and a mask is inherited): asked to stop, it stops at
/// once, and the guard passes its end on.
#[test]
fn a_guarded_child_hears_sigterm_and_the_guard_passes_its_end_on() {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    vigil::adapters::process::use_guard(env!("CARGO_BIN_EXE_vigil").into());
    let mut guard = vigil::adapters::process::guarded_std("sleep")
        .arg("30")
        .stdin(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let child = loop {
        let kids =
            std::fs::read_to_string(format!("/proc/{}/task/{}/children", guard.id(), guard.id())).unwrap_or_default();
        // Once it is `sleep`: between fork and exec the child still has
        // the guard's mask (it is cleared just before the exec).
        let started = kids
            .split_whitespace()
            .next()
            .filter(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sleep"));
        if let Some(pid) = started {
            break pid.to_owned();
        }
        assert!(Instant::now() < deadline, "the guard never started its child");
        std::thread::sleep(Duration::from_millis(20));
    };
    let status = std::fs::read_to_string(format!("/proc/{child}/status")).unwrap();
    let blocked = status.lines().find(|l| l.starts_with("SigBlk:")).unwrap();
    assert_eq!(blocked.split_whitespace().nth(1), Some("0000000000000000"), "{blocked}");
    let asked = Instant::now();
    // SAFETY: signalling the group of a process this test started.
    unsafe {
        libc::killpg(guard.id() as i32, libc::SIGTERM);
    }
    let status = guard.wait().unwrap();
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "stopped after {:?}",
        asked.elapsed()
    );
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{status:?}");
}
