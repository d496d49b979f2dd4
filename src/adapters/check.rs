//! The processes `vigil check` starts: each test binary run for one test
//! (`BINARY NAME --exact`), as nextest would run it (its working
//! directory, the package's variables), with the variant a check needs —
//! a fresh network namespace, a shifted clock (libfaketime, on the test
//! process alone), a temp dir of its own — and what it left behind.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nextest_metadata::{RustTestSuiteStatusSummary, TestListSummary};

use crate::core::check::Attempt;
use crate::core::Workspace;

/// A test that hangs is stopped after this long (a failed attempt).
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// One test, as its binary runs it.
#[derive(Clone, Debug)]
pub struct CheckTest {
    pub binary_id: String,
    pub name: String,
    pub package: String,
    pub binary: PathBuf,
    pub cwd: PathBuf,
    /// A unit suite (lib, bin, proc-macro): the network check applies.
    pub unit: bool,
}

/// Builds and lists the tests (`cargo nextest list`, the filterset given),
/// ignored ones left out.
pub fn list(ws: &Workspace, filter: Option<&str>) -> Result<Vec<CheckTest>, String> {
    let (program, pre) = super::nextest::nextest_command();
    let mut cmd = super::process::tied(program);
    cmd.args(pre)
        .args(["list", "--message-format", "json", "--workspace"])
        .current_dir(&ws.root);
    if let Some(f) = filter {
        cmd.args(["-E", f]);
    }
    let out = cmd
        .output()
        .map_err(|e| format!("failed to run cargo nextest list: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(20).collect();
        return Err(format!(
            "cargo nextest list failed:\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let json = text
        .lines()
        .find(|l| l.starts_with('{'))
        .ok_or("cargo nextest list printed no list")?;
    let summary = TestListSummary::parse_json(json).map_err(|e| format!("unreadable nextest list: {e}"))?;
    let mut tests = Vec::new();
    for s in summary.rust_suites.into_values() {
        if s.status != RustTestSuiteStatusSummary::LISTED {
            continue;
        }
        let kind = s.binary.kind.as_str().to_owned();
        for (name, case) in s.test_cases {
            if case.ignored || !matches!(case.filter_match, nextest_metadata::FilterMatch::Matches) {
                continue;
            }
            tests.push(CheckTest {
                binary_id: s.binary.binary_id.to_string(),
                name: name.as_str().to_owned(),
                package: s.package_name.clone(),
                binary: s.binary.binary_path.clone().into_std_path_buf(),
                cwd: s.cwd.clone().into_std_path_buf(),
                unit: matches!(
                    kind.as_str(),
                    "lib" | "bin" | "proc-macro" | "rlib" | "cdylib" | "dylib"
                ),
            });
        }
    }
    Ok(tests)
}

/// libfaketime's preload library (Debian's `faketime` package), if here.
pub fn faketime() -> Option<PathBuf> {
    let candidates = [
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
        "/usr/lib/faketime/libfaketime.so.1",
        "/usr/local/lib/faketime/libfaketime.so.1",
    ];
    std::env::var_os("VIGIL_FAKETIME")
        .map(PathBuf::from)
        .into_iter()
        .chain(candidates.iter().map(PathBuf::from))
        .find(|p| p.is_file())
}

/// How a check runs the test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Variant {
    Plain,
    /// In a fresh network namespace (loopback up).
    Network,
    /// With the wall clock shifted (`+3y`).
    Clock(String),
    /// With a temp dir of its own.
    Tmpdir(PathBuf),
}

/// Starts test processes and waits for them.
pub struct Runner {
    /// Where outputs (and temp dirs) go while the check runs.
    pub dir: PathBuf,
    pub faketime: Option<PathBuf>,
    /// `target/debug/deps`, for tests that load dynamic libraries.
    pub deps: PathBuf,
    next: u64,
}

impl Runner {
    pub fn new(dir: PathBuf, target_dir: &Path) -> Result<Self, String> {
        std::fs::create_dir_all(&dir).map_err(|e| format!("failed to create {}: {e}", dir.display()))?;
        Ok(Runner {
            dir,
            faketime: faketime(),
            deps: target_dir.join("debug/deps"),
            next: 0,
        })
    }

    fn command(&mut self, t: &CheckTest, variant: &Variant) -> Result<(Command, PathBuf), String> {
        self.next += 1;
        let out = self.dir.join(format!("out-{}", self.next));
        let file = std::fs::File::create(&out).map_err(|e| format!("failed to create {}: {e}", out.display()))?;
        let err = file.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = super::process::tied(&t.binary);
        cmd.args([t.name.as_str(), "--exact", "--nocapture", "--test-threads=1"])
            .current_dir(&t.cwd)
            .env("CARGO_MANIFEST_DIR", &t.cwd)
            .env("CARGO_PKG_NAME", &t.package)
            .env("LD_LIBRARY_PATH", prepend(&self.deps, "LD_LIBRARY_PATH"))
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err);
        match variant {
            Variant::Plain => {}
            Variant::Tmpdir(d) => {
                cmd.env("TMPDIR", d);
                // A session of its own: what it leaves running keeps its
                // session id, so it is found however many tests run.
                use std::os::unix::process::CommandExt;
                // SAFETY: setsid is async-signal-safe.
                unsafe {
                    cmd.pre_exec(|| {
                        libc::setsid();
                        Ok(())
                    });
                }
            }
            Variant::Clock(shift) => {
                let lib = self.faketime.as_ref().ok_or("libfaketime is not installed")?;
                cmd.env("LD_PRELOAD", prepend(lib, "LD_PRELOAD"))
                    .env("FAKETIME", shift)
                    // Timers and timeouts keep real time: only the wall clock moves.
                    .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
            }
            Variant::Network => isolate(&mut cmd),
        }
        Ok((cmd, out))
    }

    /// Runs these at once; each one's attempt, in order.
    pub fn run_all(&mut self, jobs: &[(&CheckTest, Variant)]) -> Vec<Attempt> {
        let mut running: Vec<(Option<Child>, PathBuf, Instant, Option<String>)> = Vec::new();
        for (t, v) in jobs {
            match self.command(t, v) {
                Ok((mut cmd, out)) => match cmd.spawn() {
                    Ok(c) => running.push((Some(c), out, Instant::now(), None)),
                    Err(e) => running.push((None, out, Instant::now(), Some(format!("could not start: {e}")))),
                },
                Err(e) => running.push((None, PathBuf::new(), Instant::now(), Some(e))),
            }
        }
        let mut done: Vec<Option<(bool, Duration)>> = running
            .iter()
            .map(|(c, _, _, e)| (c.is_none() && e.is_some()).then_some((false, Duration::ZERO)))
            .collect();
        while done.iter().any(Option::is_none) {
            for (i, (child, _, started, note)) in running.iter_mut().enumerate() {
                if done[i].is_some() {
                    continue;
                }
                let Some(c) = child.as_mut() else { continue };
                match c.try_wait() {
                    Ok(Some(status)) => done[i] = Some((status.success(), started.elapsed())),
                    Ok(None) if started.elapsed() > TIMEOUT => {
                        let _ = c.kill();
                        let _ = c.wait();
                        *note = Some(format!("timed out after {} s: stopped", TIMEOUT.as_secs()));
                        done[i] = Some((false, started.elapsed()));
                    }
                    Ok(None) => {}
                    Err(e) => {
                        *note = Some(format!("could not be waited for: {e}"));
                        done[i] = Some((false, started.elapsed()));
                    }
                }
            }
            if done.iter().any(Option::is_none) {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        running
            .into_iter()
            .zip(done)
            .map(|((child, out, _, note), d)| {
                let pid = child.as_ref().map_or(0, Child::id);
                let (passed, duration) = d.unwrap_or((false, Duration::ZERO));
                let mut output = String::new();
                if let Ok(mut f) = std::fs::File::open(&out) {
                    let mut bytes = Vec::new();
                    let _ = f.by_ref().take(256 * 1024).read_to_end(&mut bytes);
                    output = String::from_utf8_lossy(&bytes).into_owned();
                }
                let _ = std::fs::remove_file(&out);
                if let Some(n) = note {
                    output.push_str(&format!("\nvigil: {n}\n"));
                }
                Attempt {
                    pid,
                    passed,
                    duration,
                    output,
                }
            })
            .collect()
    }
}

/// `dir` before the variable's current value, `:`-joined.
fn prepend(dir: &Path, var: &str) -> std::ffi::OsString {
    let mut v = dir.as_os_str().to_owned();
    if let Some(old) = std::env::var_os(var).filter(|o| !o.is_empty()) {
        v.push(":");
        v.push(old);
    }
    v
}

/// Whether a process can be started without the network here; why not.
pub fn namespaces() -> Result<(), String> {
    if !cfg!(target_os = "linux") {
        return Err("network namespaces are Linux's".into());
    }
    let mut cmd = Command::new("/bin/sh");
    cmd.args(["-c", "exit 0"]).stdout(Stdio::null()).stderr(Stdio::null());
    isolate(&mut cmd);
    match cmd.status() {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!("a process in a new network namespace ended with {s}")),
        Err(e) => Err(format!("a new user and network namespace cannot be had here ({e})")),
    }
}

/// Starts the command in a new network namespace (and, unprivileged, a
/// new user namespace mapping the user to root in it), with loopback up.
fn isolate(cmd: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: geteuid/getegid have no preconditions.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        let uid_map = format!("0 {uid} 1");
        let gid_map = format!("0 {gid} 1");
        // SAFETY: the closure runs in the forked child before exec and only
        // makes system calls (unshare, open, write, close, socket, ioctl)
        // on memory prepared before the fork.
        unsafe {
            cmd.pre_exec(move || {
                let write = |path: &[u8], text: &[u8]| -> std::io::Result<()> {
                    let fd = libc::open(path.as_ptr().cast(), libc::O_WRONLY);
                    if fd < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    let n = libc::write(fd, text.as_ptr().cast(), text.len());
                    libc::close(fd);
                    if n < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                };
                if uid == 0 {
                    if libc::unshare(libc::CLONE_NEWNET) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                } else {
                    if libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    write(b"/proc/self/setgroups\0", b"deny")?;
                    write(b"/proc/self/uid_map\0", uid_map.as_bytes())?;
                    write(b"/proc/self/gid_map\0", gid_map.as_bytes())?;
                }
                // Loopback up, so a server the test starts itself answers.
                let s = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
                if s < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let mut req: libc::ifreq = std::mem::zeroed();
                for (i, b) in b"lo".iter().enumerate() {
                    req.ifr_name[i] = *b as libc::c_char;
                }
                if libc::ioctl(s, libc::SIOCGIFFLAGS as _, &mut req) < 0 {
                    libc::close(s);
                    return Err(std::io::Error::last_os_error());
                }
                req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
                let r = libc::ioctl(s, libc::SIOCSIFFLAGS as _, &req);
                libc::close(s);
                if r < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cmd;
}

/// Makes this process the subreaper of what it starts: a test's orphans
/// become its children, where they can be seen and stopped.
pub fn become_subreaper() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with these arguments only sets a flag of this process.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
}

/// A process left behind: its pid, name and session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Orphan {
    pub pid: i32,
    pub name: String,
    pub session: i32,
    /// When it started (clock ticks after boot): a pid reused later is
    /// not it.
    pub start: u64,
}

/// This process's live children that it did not start as `Child`ren
/// (orphans of the tests, reparented here). Zombies among them are reaped.
pub fn orphans() -> Vec<Orphan> {
    let me = std::process::id().to_string();
    let mut out = Vec::new();
    // The kernel lists each thread's children (`/proc/self/task/T/children`):
    // a few reads, where walking all of /proc costs about a millisecond,
    // which the resident runner would pay for every test. Without that
    // file, every process is looked at.
    let pids: Vec<i32> = match children() {
        Some(p) => p,
        None => std::fs::read_dir("/proc")
            .map(|d| {
                d.flatten()
                    .filter_map(|e| e.file_name().to_string_lossy().parse().ok())
                    .collect()
            })
            .unwrap_or_default(),
    };
    for pid in pids {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let name = head.split_once('(').map_or("", |(_, n)| n).to_owned();
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // `rest` begins at stat's field 3: state, ppid, pgrp, session, …,
        // and field 22, the start time.
        let field = |i: usize| fields.get(i).copied().unwrap_or("");
        if field(1) != me {
            continue;
        }
        if field(0) == "Z" {
            // SAFETY: reaping a zombie child of this process.
            unsafe {
                libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG);
            }
            continue;
        }
        out.push(Orphan {
            pid,
            name,
            session: field(3).parse().unwrap_or(0),
            start: field(19).parse().unwrap_or(0),
        });
    }
    out
}

/// This process's children, from each thread's list (`None`: the kernel
/// keeps no such list).
fn children() -> Option<Vec<i32>> {
    let mut out = Vec::new();
    for t in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let text = std::fs::read_to_string(t.path().join("children")).ok()?;
        out.extend(text.split_whitespace().filter_map(|p| p.parse::<i32>().ok()));
    }
    Some(out)
}

/// Stops and reaps orphans `orphans` found.
pub fn stop(pids: &[i32]) {
    for &pid in pids {
        // SAFETY: signalling and reaping this process's own children.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
    }
}

/// The files under `dir`, relative, sorted.
pub fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            if let Ok(rel) = p.strip_prefix(dir) {
                out.push(rel.display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// The start time of a live process (`None`: gone).
fn started(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    let state = rest.split_whitespace().next()?;
    if state == "Z" {
        return None;
    }
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// The runner's record of what a test left running: `leaks-<pid>.txt` in
/// the run's profile directory, the test's binary id and name, then a line
/// per process (pid, start time, name).
pub fn write_leaks(dir: &Path, binary_id: &str, name: &str, left: &[Orphan]) -> std::io::Result<()> {
    let mut text = format!("{binary_id}\t{name}\n");
    for o in left {
        text.push_str(&format!("{}\t{}\t{}\n", o.pid, o.start, o.name));
    }
    std::fs::write(dir.join(format!("leaks-{}.txt", std::process::id())), text)
}

/// What the run's tests left running, as findings; each process still
/// running (the same one: its start time) is stopped now that the run has
/// ended.
pub fn collect_leaks(dir: &Path) -> Vec<crate::core::check::Finding> {
    let mut out: Vec<crate::core::check::Finding> = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("leaks-")))
        .collect();
    files.sort();
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        let mut lines = text.lines();
        let Some((binary_id, name)) = lines.next().and_then(|l| l.split_once('\t')) else {
            continue;
        };
        let mut said = Vec::new();
        let mut stopped = 0;
        for l in lines {
            let mut parts = l.splitn(3, '\t');
            let (Some(pid), Some(start), Some(pname)) = (parts.next(), parts.next(), parts.next()) else {
                continue;
            };
            let (Ok(pid), Ok(start)) = (pid.parse::<i32>(), start.parse::<u64>()) else {
                continue;
            };
            if started(pid) == Some(start) {
                // SAFETY: signalling a process this run's test left behind,
                // checked to be that same process by its start time.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
                stopped += 1;
            }
            said.push(format!("`{pname}` (pid {pid})"));
        }
        let _ = std::fs::remove_file(&f);
        if said.is_empty() {
            continue;
        }
        out.push(crate::core::check::Finding {
            binary_id: binary_id.to_owned(),
            name: name.to_owned(),
            kind: crate::core::check::Kind::LeakedProcesses,
            runs: 1,
            failures: 0,
            evidence: match stopped {
                0 => format!(
                    "left {} running after it exited (gone by the end of the run)",
                    said.join(", ")
                ),
                n => format!(
                    "left {} running after it exited ({n} still running when the run ended: stopped then)",
                    said.join(", ")
                ),
            },
            assertion: None,
        });
    }
    out
}
