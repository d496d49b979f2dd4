//! `vigil __guard`: the process that leads a long-lived child's group and
//! is the subreaper of everything below it, so that when vigil dies (even by
//! SIGKILL) nothing it started lives on.

use super::*;

/// `vigil __guard --parent PID -- PROGRAM ARGS…`: runs PROGRAM, passes its
/// exit on, and ends everything below it when PID (vigil) dies. Returns
/// the exit code to leave with (a child killed by a signal is passed on by
/// the guard raising the same signal on itself).
pub fn guard_main(argv: &[std::ffi::OsString]) -> i32 {
    let usage = || {
        eprintln!("error: vigil __guard --parent PID -- PROGRAM ARGS… (vigil starts this itself)");
        2
    };
    let (parent, program, rest) = match argv {
        [flag, pid, dashes, program, rest @ ..] if flag == "--parent" && dashes == "--" => {
            match pid.to_str().and_then(|p| p.parse::<i32>().ok()) {
                Some(p) => (p, program, rest),
                None => return usage(),
            }
        }
        _ => return usage(),
    };
    // SAFETY (this block and the calls below): plain system calls on this
    // single-threaded process, with pointers to locals that outlive them.
    let set = unsafe {
        #[cfg(target_os = "linux")]
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in [
            libc::SIGCHLD,
            libc::SIGTERM,
            libc::SIGINT,
            libc::SIGHUP,
            libc::SIGQUIT,
            libc::SIGUSR2,
        ] {
            libc::sigaddset(&mut set, s);
        }
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    };
    arm_parent_death();
    if unsafe { libc::getppid() } != parent {
        // vigil is gone already: start nothing.
        return 1;
    }
    // The child starts with no signal blocked: the mask is inherited across
    // fork and exec, and std's spawn leaves it as it is (a blocked SIGTERM
    // made nextest deaf to being asked to stop).
    let mut cmd = std::process::Command::new(program);
    cmd.args(rest);
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: sigemptyset and sigprocmask are async-signal-safe and
        // touch only a local set.
        unsafe {
            cmd.pre_exec(|| {
                let mut none: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut none);
                libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
                Ok(())
            });
        }
    }
    let child = match cmd.spawn() {
        Ok(c) => c.id() as i32,
        Err(e) => {
            eprintln!(
                "error: could not start {}: {e}",
                std::path::Path::new(program).display()
            );
            return 127;
        }
    };
    let mut status = None;
    loop {
        let signal = wait_signal(&set, Duration::from_millis(200));
        status = status.or(reap(child));
        if status.is_some() {
            break;
        }
        if unsafe { libc::getppid() } != parent {
            orphaned(&set, child);
            return 1;
        }
        if signal == Some(libc::SIGUSR2) {
            // A thread of vigil ended, vigil lives: tie to it again.
            arm_parent_death();
        }
        // SIGTERM and the like came to the whole group: the child has it.
    }
    // What the child left behind goes with it (as an unguarded leader's
    // group would).
    sweep(&set);
    let raw = status.unwrap_or(0);
    if libc::WIFSIGNALED(raw) {
        let sig = libc::WTERMSIG(raw);
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
            libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            let mut only: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut only);
            libc::sigaddset(&mut only, sig);
            libc::sigprocmask(libc::SIG_UNBLOCK, &only, std::ptr::null_mut());
            libc::raise(sig);
        }
        return 128 + sig;
    }
    libc::WEXITSTATUS(raw)
}

pub(super) fn arm_parent_death() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with integer arguments only.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGUSR2 as libc::c_ulong, 0, 0, 0);
    }
}

/// Waits up to `timeout` for one of the blocked signals; `None` on timeout.
pub(super) fn wait_signal(set: &libc::sigset_t, timeout: Duration) -> Option<i32> {
    #[cfg(target_os = "linux")]
    {
        let ts = libc::timespec {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_nsec: timeout.subsec_nanos() as libc::c_long,
        };
        // SAFETY: pointers to locals; a null siginfo is allowed.
        let s = unsafe { libc::sigtimedwait(set, std::ptr::null_mut(), &ts) };
        (s > 0).then_some(s)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = set;
        std::thread::sleep(timeout);
        None
    }
}

/// Reaps every child that ended; the raw wait status of `main` if it did.
pub(super) fn reap(main: i32) -> Option<i32> {
    let mut found = None;
    loop {
        let mut status = 0;
        // SAFETY: waitpid with a pointer to a local.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            return found;
        }
        if pid == main {
            found = Some(status);
        }
    }
}

/// vigil died: everything below the guard is asked to stop, and killed
/// after the grace.
pub(super) fn orphaned(set: &libc::sigset_t, child: i32) {
    let me = std::process::id() as i32;
    for pid in descendants(me) {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
    let until = std::time::Instant::now() + GUARD_GRACE;
    let mut ended = false;
    while std::time::Instant::now() < until {
        wait_signal(set, Duration::from_millis(50));
        ended |= reap(child).is_some();
        if ended && descendants(me).is_empty() {
            return;
        }
    }
    sweep(set);
}

/// Kills everything below the guard (orphans come to it: it is their
/// subreaper) until nothing is left, reaping as it goes.
pub(super) fn sweep(set: &libc::sigset_t) {
    let me = std::process::id() as i32;
    for _ in 0..100 {
        let left = descendants(me);
        if left.is_empty() {
            return;
        }
        for pid in left {
            // SAFETY: as above.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
        wait_signal(set, Duration::from_millis(20));
        reap(0);
    }
}
