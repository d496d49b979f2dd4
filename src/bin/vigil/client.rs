//! The commands that talk to a running vigil: `send`, `status`, `lsp`.

use super::*;
use vigil::client::{ClientError, Connection};

/// The socket of the workspace around `dir`.
fn socket_of(dir: &Path) -> Result<PathBuf, ExitCode> {
    let ws = workspace::discover_members(dir).map_err(fail)?;
    Ok(vigil::adapters::server::socket_path(&ws.target_dir))
}

/// `vigil send COMMAND…`: 0 when the running vigil took it, 1 when it
/// refused it (an unknown test), 2 when no vigil runs there.
pub(super) fn send(args: SendArgs) -> ExitCode {
    let socket = match socket_of(&args.workspace) {
        Ok(s) => s,
        Err(code) => return code,
    };
    // Said here rather than by the engine: a typo never needs a vigil.
    let words: Vec<&str> = args.command.iter().map(String::as_str).collect();
    if let Err(e) = vigil::core::command::Command::parse(&words) {
        return fail(e);
    }
    let mut conn = match Connection::open(&socket) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    conn.set_timeout(Some(std::time::Duration::from_secs(30)));
    match conn.ask(&args.command, 1) {
        Ok(reply) => {
            let message = reply["message"].as_str().unwrap_or_default();
            if reply["ok"] == true {
                if !message.is_empty() {
                    println!("{message}");
                }
                ExitCode::from(EXIT_PASSED)
            } else {
                eprintln!("error: vigil refused `{}`: {message}", args.command.join(" "));
                ExitCode::from(EXIT_FAILED)
            }
        }
        Err(e) => fail(e),
    }
}

/// `vigil status`: the running vigil's state in one line; when none runs,
/// the last run it kept, said as such.
pub(super) fn status(args: StatusArgs) -> ExitCode {
    let ws = match workspace::discover_members(&args.path) {
        Ok(ws) => ws,
        Err(e) => return fail(e),
    };
    let socket = vigil::adapters::server::socket_path(&ws.target_dir);
    let snapshot = Connection::open(&socket).and_then(|mut c| {
        c.set_timeout(Some(std::time::Duration::from_secs(10)));
        c.next_line()?.ok_or(ClientError::Closed(socket.clone()))
    });
    let (line, json) = match snapshot {
        Ok(snap) => (vigil::client::status_line(&snap), vigil::client::status_json(&snap)),
        Err(ClientError::NotRunning(_)) => match kept_status(&ws.target_dir) {
            Some(x) => x,
            None => {
                return fail(format!(
                    "no vigil runs in {} and none has kept a run there; start `vigil` or `vigil watch`",
                    ws.root.display()
                ))
            }
        },
        Err(e) => return fail(e),
    };
    match args.format {
        Format::Human => println!("{line}"),
        Format::Json => println!("{json}"),
    }
    ExitCode::from(EXIT_PASSED)
}

/// The status of the last run kept in the state directory (vigil is not
/// running): its counts and coverage, marked as not live.
fn kept_status(target_dir: &Path) -> Option<(String, serde_json::Value)> {
    let text = std::fs::read_to_string(app::last_run_path(target_dir)).ok()?;
    let finished: serde_json::Value = text
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"] == "run_finished")?;
    let snap = serde_json::json!({
        "tests": finished["tests"],
        "coverage": finished["coverage"],
        "run": {"run": finished["run"], "active": false, "finished": finished["run"],
                "finished_outcome": finished["outcome"]},
    });
    let mut json = vigil::client::status_json(&snap);
    json["live"] = serde_json::Value::Bool(false);
    Some((
        format!("{} (vigil is not running)", vigil::client::status_line(&snap)),
        json,
    ))
}

/// `vigil lsp`: the language server on stdio.
pub(super) fn lsp(args: LspArgs) -> ExitCode {
    match vigil::lsp::main(args.workspace, args.config) {
        Ok(()) => ExitCode::from(EXIT_PASSED),
        Err(e) => {
            eprintln!("error: vigil lsp: {e}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}
