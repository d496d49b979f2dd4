//! The read tracer itself, preloaded into small C programs: the process
//! the runner starts keeps its lines until it ends, execs, forks or calls
//! `_exit`/`abort`, and loses none of them on those paths; what it starts
//! writes each line at once, so a child killed with SIGKILL keeps what it
//! read.

use std::path::{Path, PathBuf};
use std::process::Command;

const PROGRAM: &str = r#"
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* argv: mode, the file it reads, the file what it starts reads. */
int main(int argc, char **argv) {
    if (argc < 4) {
        return 2;
    }
    const char *mode = argv[1];
    if (!strcmp(mode, "child")) {
        /* Started by "killed": reads, tells, waits to be killed. */
        close(open(argv[2], O_RDONLY));
        if (write(1, "x", 1) != 1) {
            return 3;
        }
        pause();
        return 0;
    }
    close(open(argv[2], O_RDONLY));
    if (!strcmp(mode, "exit")) {
        return 0;
    }
    if (!strcmp(mode, "_exit")) {
        _exit(0);
    }
    if (!strcmp(mode, "abort")) {
        signal(SIGABRT, SIG_DFL);
        abort();
    }
    if (!strcmp(mode, "exec")) {
        char *args[] = {"cat", argv[3], NULL};
        execv("/bin/cat", args);
        return 4;
    }
    if (!strcmp(mode, "fork")) {
        pid_t p = fork();
        if (p == 0) {
            close(open(argv[3], O_RDONLY));
            _exit(0);
        }
        waitpid(p, NULL, 0);
        return 0;
    }
    if (!strcmp(mode, "killed")) {
        int fds[2];
        if (pipe(fds) != 0) {
            return 5;
        }
        pid_t p = fork();
        if (p == 0) {
            dup2(fds[1], 1);
            char *args[] = {argv[0], "child", argv[3], argv[3], NULL};
            execv(argv[0], args);
            _exit(6);
        }
        char c;
        if (read(fds[0], &c, 1) != 1) {
            return 7;
        }
        kill(p, SIGKILL);
        waitpid(p, NULL, 0);
        return 0;
    }
    return 8;
}
"#;

/// The program built with the C compiler vigil's own build used; `None`
/// (SKIPPED, or a failure under `CI=true`) where there is none.
fn program(dir: &Path) -> Option<PathBuf> {
    let source = dir.join("reader.c");
    std::fs::write(&source, PROGRAM).unwrap();
    let exe = dir.join("reader");
    let built = Command::new("cc").arg("-o").arg(&exe).arg(&source).status();
    match built {
        Ok(s) if s.success() => Some(exe),
        other => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI has the C compiler vigil's tracer is built with: {other:?}"
            );
            eprintln!("SKIPPED: no C compiler to build the tracer's test program ({other:?})");
            None
        }
    }
}

#[test]
fn every_way_a_traced_process_ends_keeps_what_it_read() {
    if !cfg!(target_os = "linux") {
        eprintln!("SKIPPED: read tracing needs Linux");
        return;
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("tracer-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let lib = match vigil::adapters::reads::install(&dir.join("lib")) {
        Ok(lib) => lib,
        Err(why) => {
            assert!(std::env::var_os("CI").is_none(), "{why}");
            eprintln!("SKIPPED: {why}");
            return;
        }
    };
    let Some(exe) = program(&dir) else { return };
    let data = dir.join("data");
    std::fs::write(data.join("own.txt"), "own\n").unwrap();
    std::fs::write(data.join("other.txt"), "other\n").unwrap();
    for mode in ["exit", "_exit", "abort", "exec", "fork", "killed"] {
        let record = dir.join(format!("{mode}.log"));
        let status = Command::new(&exe)
            .args([mode, "data/own.txt", "data/other.txt"])
            .current_dir(&dir)
            .env("LD_PRELOAD", &lib)
            .env("VIGIL_READS_FILE", &record)
            .env("VIGIL_READS_ROOT", &data)
            .env("VIGIL_READS_TAG", "t")
            .env_remove("VIGIL_READS_CHILD")
            .status()
            .unwrap();
        assert_eq!(status.success(), mode != "abort", "{mode}: {status:?}");
        let text = std::fs::read_to_string(&record).unwrap_or_default();
        let mut lines: Vec<&str> = text.lines().collect();
        lines.sort_unstable();
        lines.dedup();
        let own = format!("t r {}/own.txt", data.display());
        let other = format!("t r {}/other.txt", data.display());
        let mut want = vec!["t +", own.as_str()];
        if matches!(mode, "exec" | "fork" | "killed") {
            want.push(other.as_str());
        }
        want.sort_unstable();
        assert_eq!(lines, want, "{mode}: {text}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
