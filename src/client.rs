//! A client of a running engine's socket, blocking: `vigil send`, `vigil
//! status` and `vigil lsp` talk to the engine through it.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

/// Why no engine could be reached.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("no vigil runs in this workspace (nothing listens on {0}); start `vigil` or `vigil watch` there")]
    NotRunning(PathBuf),
    #[error("the vigil at {0} refused this client: {1}")]
    Refused(PathBuf, String),
    #[error("the vigil at {path} could not be reached: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("the vigil at {0} closed the connection")]
    Closed(PathBuf),
    #[error("the vigil at {0} did not answer in time")]
    Timeout(PathBuf),
}

/// One connection to an engine.
pub struct Connection {
    path: PathBuf,
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    line: String,
}

impl Connection {
    /// Connects to the socket at `path`. The engine's first line (its
    /// snapshot) is read by `next_line`.
    pub fn open(path: &Path) -> Result<Self, ClientError> {
        let stream = crate::adapters::server::connect(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                ClientError::NotRunning(path.to_owned())
            }
            _ => ClientError::Io {
                path: path.to_owned(),
                source: e,
            },
        })?;
        let writer = stream.try_clone().map_err(|e| ClientError::Io {
            path: path.to_owned(),
            source: e,
        })?;
        Ok(Connection {
            path: path.to_owned(),
            reader: BufReader::new(stream),
            writer,
            line: String::new(),
        })
    }

    /// A second handle that writes commands while this one reads.
    pub fn writer(&self) -> Result<Writer, ClientError> {
        let stream = self.writer.try_clone().map_err(|e| ClientError::Io {
            path: self.path.clone(),
            source: e,
        })?;
        Ok(Writer { stream })
    }

    /// Sends one command (`["rerun", "orders::checkout", "refund_partial"]`)
    /// with the id its reply will carry.
    pub fn send(&mut self, words: &[String], id: u64) -> Result<(), ClientError> {
        let path = self.path.clone();
        write_command(&mut self.writer, words, id).map_err(|e| ClientError::Io { path, source: e })
    }

    /// Waits at most `timeout` for each line (`None`: for ever).
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        let _ = self.reader.get_ref().set_read_timeout(timeout);
    }

    /// The next line the engine sent, as JSON (`Ok(None)`: it closed).
    pub fn next_line(&mut self) -> Result<Option<Value>, ClientError> {
        loop {
            self.line.clear();
            match self.reader.read_line(&mut self.line) {
                Ok(0) => return Ok(None),
                Ok(_) => {}
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                    return Err(ClientError::Timeout(self.path.clone()))
                }
                Err(e) => {
                    return Err(ClientError::Io {
                        path: self.path.clone(),
                        source: e,
                    })
                }
            }
            let Ok(v) = serde_json::from_str::<Value>(self.line.trim()) else {
                continue;
            };
            if v["event"] == "refused" {
                let why = v["message"].as_str().unwrap_or("refused").to_owned();
                return Err(ClientError::Refused(self.path.clone(), why));
            }
            return Ok(Some(v));
        }
    }

    /// Sends a command and waits for its reply, skipping the events.
    pub fn ask(&mut self, words: &[String], id: u64) -> Result<Value, ClientError> {
        self.send(words, id)?;
        loop {
            match self.next_line()? {
                None => return Err(ClientError::Closed(self.path.clone())),
                Some(v) if is_answer(&v, id) => return Ok(v),
                Some(_) => {}
            }
        }
    }
}

/// Whether a line answers the command sent with `id` (a reply, or the
/// snapshot asked for).
pub fn is_answer(v: &Value, id: u64) -> bool {
    (v["event"] == "reply" || v["event"] == "snapshot") && v["id"] == id
        || v["event"] == "reply" && v["id"].is_null() && v["ok"] == false
}

/// Writes commands on a connection another thread reads.
pub struct Writer {
    stream: UnixStream,
}

impl Writer {
    pub fn send(&mut self, words: &[String], id: u64) -> std::io::Result<()> {
        write_command(&mut self.stream, words, id)
    }
}

fn write_command(w: &mut impl Write, words: &[String], id: u64) -> std::io::Result<()> {
    let (command, args) = words.split_first().map_or(("", &[][..]), |(c, a)| (c.as_str(), a));
    let line = serde_json::json!({ "command": command, "args": args, "id": id });
    w.write_all(format!("{line}\n").as_bytes())?;
    w.flush()
}

/// `✓ 412 ✗ 1 · 87.3 % · run 14`: a snapshot in one line, for prompts and
/// status bars.
pub fn status_line(snapshot: &Value) -> String {
    let t = &snapshot["tests"];
    let n = |k: &str| t[k].as_u64().unwrap_or(0);
    let mut parts = vec![format!("✓ {}", n("passed"))];
    if n("failed") > 0 || n("xpass") > 0 {
        parts[0].push_str(&format!(" ✗ {}", n("failed") + n("xpass")));
    }
    if n("blocked") > 0 {
        parts[0].push_str(&format!(" ⊘ {}", n("blocked")));
    }
    if let Some(p) = snapshot["coverage"]["lines"]["percent"].as_f64() {
        parts.push(format!("{p:.1} %"));
    }
    let run = &snapshot["run"];
    if let Some(r) = run["run"].as_u64() {
        if run["active"] == true {
            parts.push(format!("run {r} running"));
        } else {
            parts.push(format!("run {r}"));
        }
    }
    parts.join(" · ")
}

/// `vigil status --format json`: `{"run","outcome","tests","coverage":{"lines"}}`.
pub fn status_json(snapshot: &Value) -> Value {
    let run = &snapshot["run"];
    serde_json::json!({
        "run": run["finished"],
        "outcome": run["finished_outcome"],
        "running": if run["active"] == true { run["run"].clone() } else { Value::Null },
        "tests": snapshot["tests"],
        "coverage": { "lines": snapshot["coverage"]["lines"]["percent"] },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_line_says_results_coverage_and_run() {
        let snap = serde_json::json!({
            "tests": {"total": 414, "passed": 412, "failed": 1, "xpass": 0, "blocked": 0},
            "coverage": {"lines": {"percent": 87.34}},
            "run": {"run": 14, "active": false, "finished": 14, "finished_outcome": "failed"},
        });
        assert_eq!(status_line(&snap), "✓ 412 ✗ 1 · 87.3 % · run 14");
        let j = status_json(&snap);
        assert_eq!((j["run"].as_u64(), j["outcome"].as_str()), (Some(14), Some("failed")));
        assert_eq!(j["coverage"]["lines"].as_f64(), Some(87.34));
        let idle = serde_json::json!({"tests": {"passed": 3}, "coverage": null, "run": null});
        assert_eq!(status_line(&idle), "✓ 3");
    }
}
