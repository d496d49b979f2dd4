//! `vigil lsp`: a language server on stdio that puts the engine's results
//! on the code. It is a client of the engine's socket like any other: it
//! attaches to the workspace's running vigil, or starts a headless engine
//! of its own in-process when none runs, and translates the snapshot and
//! the events into diagnostics (failing tests at their panic and at their
//! `fn`, budgets, blocked tests, changed lines no test reaches), code
//! lenses on test functions, and "reached by" on hover. `state` is what it
//! knows (pure), `sites` where tests are defined.

pub mod sites;
pub mod state;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use lsp_server::{Connection, Message, Notification, Request, RequestId, Response};
use lsp_types::{
    CodeLensOptions, ExecuteCommandOptions, Hover, HoverContents, HoverProviderCapability, MarkupContent, MarkupKind,
    PublishDiagnosticsParams, ServerCapabilities, TextDocumentSyncCapability, TextDocumentSyncKind, Uri,
};
use serde_json::Value;

use crate::client::ClientError;
use state::State;

/// Diagnostics go out at most this often while events stream (well
/// within the 200 ms an editor should see a result in).
const PUBLISH_EVERY: Duration = Duration::from_millis(25);

/// Lenses are asked to refresh at most this often (each refresh makes the
/// editor ask for every visible file's lenses again).
const LENS_REFRESH_EVERY: Duration = Duration::from_millis(250);

/// What the server's loop hears.
pub enum Input {
    Lsp(Message),
    /// A line from the engine.
    Line(String),
    /// The engine closed the connection.
    EngineGone,
    /// The editor closed stdin.
    EditorGone,
}

/// `vigil lsp` on this process's stdin and stdout. Stdout is the
/// protocol's alone: descriptor 1 is pointed at stderr for the rest of
/// the process (so nothing vigil or a child prints can corrupt it).
pub fn main(workspace: Option<PathBuf>, config: Option<PathBuf>) -> Result<(), String> {
    use std::os::fd::FromRawFd;
    // SAFETY: dup and dup2 on the process's own standard descriptors.
    let out = unsafe {
        let fd = libc::dup(1);
        if fd < 0 || libc::dup2(2, 1) < 0 {
            return Err("failed to set stdout aside for the protocol".into());
        }
        std::fs::File::from_raw_fd(fd)
    };
    let (server, pump) = Connection::memory();
    let (to_server, from_server) = (pump.sender, pump.receiver);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        while let Ok(Some(msg)) = Message::read(&mut stdin) {
            let exit = matches!(&msg, Message::Notification(n) if n.method == "exit");
            if to_server.send(msg).is_err() || exit {
                return;
            }
        }
    });
    let writer = std::thread::spawn(move || {
        let mut out = std::io::BufWriter::new(out);
        for msg in from_server {
            if msg.write(&mut out).is_err() {
                return;
            }
            use std::io::Write;
            if out.flush().is_err() {
                return;
            }
        }
    });
    let result = serve(server, Options { workspace, config });
    let _ = writer.join();
    result
}

pub struct Options {
    /// The workspace (default: the editor's root, else the current directory).
    pub workspace: Option<PathBuf>,
    /// The config of an engine it starts.
    pub config: Option<PathBuf>,
}

/// An engine this server started (none ran): stopped when it exits.
struct Owned {
    tx: tokio::sync::mpsc::UnboundedSender<crate::core::Msg>,
    thread: std::thread::JoinHandle<()>,
}

impl Owned {
    fn stop(self) {
        let now = std::time::Duration::ZERO;
        let _ = self.tx.send(crate::core::Msg::Cancel { at: now });
        let _ = self.thread.join();
    }
}

/// A pending question to the engine, by the id it was sent with.
enum Asked {
    Hover { request: RequestId, line: u32 },
    Command,
    Snapshot,
}

struct Server {
    conn: Connection,
    inputs: mpsc::Sender<Input>,
    socket: PathBuf,
    root: PathBuf,
    config: Option<PathBuf>,
    engine: Option<crate::client::Writer>,
    owned: Option<Owned>,
    state: State,
    published: BTreeMap<PathBuf, Vec<lsp_types::Diagnostic>>,
    dirty: bool,
    last_publish: Option<Instant>,
    next_id: u64,
    asked: HashMap<u64, Asked>,
    lens_refresh: bool,
    last_lens_refresh: Option<Instant>,
    shutting_down: bool,
}

/// Serves one editor on `conn` until it says `exit`.
pub fn serve(conn: Connection, options: Options) -> Result<(), String> {
    let (id, params) = conn.initialize_start().map_err(|e| e.to_string())?;
    let params: lsp_types::InitializeParams = serde_json::from_value(params).unwrap_or_default();
    #[allow(deprecated)]
    let editor_root = params
        .workspace_folders
        .as_ref()
        .and_then(|f| f.first())
        .and_then(|f| path_of(&f.uri))
        .or_else(|| params.root_uri.as_ref().and_then(path_of));
    let dir = options
        .workspace
        .clone()
        .or(editor_root)
        .unwrap_or_else(|| PathBuf::from("."));
    let ws = crate::adapters::workspace::discover_members(&dir).map_err(|e| e.to_string())?;
    let lens_refresh = params
        .capabilities
        .workspace
        .as_ref()
        .and_then(|w| w.code_lens.as_ref())
        .and_then(|c| c.refresh_support)
        .unwrap_or(false);
    let capabilities = ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        code_lens_provider: Some(CodeLensOptions {
            resolve_provider: Some(false),
        }),
        execute_command_provider: Some(ExecuteCommandOptions {
            commands: COMMANDS.iter().map(|(c, _)| (*c).to_owned()).collect(),
            work_done_progress_options: Default::default(),
        }),
        ..Default::default()
    };
    let result = serde_json::json!({
        "capabilities": capabilities,
        "serverInfo": {"name": "vigil", "version": env!("CARGO_PKG_VERSION")},
    });
    conn.initialize_finish(id, result).map_err(|e| e.to_string())?;
    let (inputs, rx) = mpsc::channel();
    let receiver = conn.receiver.clone();
    let tx = inputs.clone();
    std::thread::spawn(move || {
        for msg in receiver {
            if tx.send(Input::Lsp(msg)).is_err() {
                return;
            }
        }
        let _ = tx.send(Input::EditorGone);
    });
    let mut server = Server {
        conn,
        inputs,
        socket: crate::adapters::server::socket_path(&ws.target_dir),
        root: ws.root.clone(),
        config: options.config,
        engine: None,
        owned: None,
        state: State::new(ws.root.clone()),
        published: BTreeMap::new(),
        dirty: false,
        last_publish: None,
        next_id: 0,
        asked: HashMap::new(),
        lens_refresh,
        last_lens_refresh: None,
        shutting_down: false,
    };
    server.attach(ws);
    let result = server.run(rx);
    if let Some(owned) = server.owned.take() {
        owned.stop();
    }
    result
}

/// The commands the server executes (code lenses, the editor's palette).
pub const COMMANDS: &[(&str, &str)] = &[
    ("vigil.rerun", "rerun a test (arguments: binary id, name)"),
    (
        "vigil.open",
        "select a test in the live view (arguments: binary id, name)",
    ),
    ("vigil.rerunFailed", "rerun the failed tests"),
    ("vigil.runAll", "run every test"),
    ("vigil.cancel", "stop the run in flight"),
];

impl Server {
    /// Attaches to the workspace's running engine, or starts one.
    fn attach(&mut self, ws: crate::core::Workspace) {
        match crate::client::Connection::open(&self.socket) {
            Ok(c) => {
                self.log(&format!("attached to the vigil at {}", self.socket.display()));
                self.listen(c);
            }
            Err(ClientError::NotRunning(_)) => match self.start_engine(ws) {
                Ok(()) => {}
                Err(e) => self.show(lsp_types::MessageType::ERROR, &format!("vigil could not start: {e}")),
            },
            Err(e) => self.show(lsp_types::MessageType::ERROR, &e.to_string()),
        }
    }

    fn start_engine(&mut self, ws: crate::core::Workspace) -> Result<(), String> {
        crate::adapters::nextest::check_version(&ws.root).map_err(|e| e.to_string())?;
        let settings = crate::config::Settings::load(self.config.as_deref(), &ws.root).map_err(|e| e.to_string())?;
        let (ready_tx, ready) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("engine".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!("failed to start the async runtime: {e}")));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match crate::app::serve_headless(ws, settings) {
                        Ok((tx, run)) => {
                            let _ = ready_tx.send(Ok(tx));
                            run.await;
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e.to_string()));
                        }
                    }
                });
            })
            .map_err(|e| format!("failed to start the engine's thread: {e}"))?;
        let tx = ready
            .recv()
            .map_err(|_| "the engine stopped as it started".to_owned())??;
        self.owned = Some(Owned { tx, thread });
        let c = crate::client::Connection::open(&self.socket).map_err(|e| e.to_string())?;
        self.log(&format!(
            "no vigil ran in {}: started one ({})",
            self.root.display(),
            self.socket.display()
        ));
        self.listen(c);
        Ok(())
    }

    /// Reads the engine's lines on a thread of their own.
    fn listen(&mut self, c: crate::client::Connection) {
        self.engine = c.writer().ok();
        let tx = self.inputs.clone();
        let mut c = c;
        std::thread::spawn(move || loop {
            match c.next_line() {
                Ok(Some(v)) => {
                    if tx.send(Input::Line(v.to_string())).is_err() {
                        return;
                    }
                }
                Ok(None) | Err(_) => {
                    let _ = tx.send(Input::EngineGone);
                    return;
                }
            }
        });
    }

    fn run(&mut self, rx: mpsc::Receiver<Input>) -> Result<(), String> {
        loop {
            let wait = match (self.dirty, self.last_publish) {
                (true, Some(t)) => (t + PUBLISH_EVERY).saturating_duration_since(Instant::now()),
                (true, None) => Duration::ZERO,
                (false, _) => Duration::from_secs(3600),
            };
            match rx.recv_timeout(wait) {
                Ok(Input::Lsp(Message::Request(req))) => self.request(req),
                Ok(Input::Lsp(Message::Notification(n))) => {
                    if n.method == "exit" {
                        return if self.shutting_down {
                            Ok(())
                        } else {
                            Err("the editor said exit before shutdown".into())
                        };
                    }
                    self.notification(n);
                }
                Ok(Input::Lsp(Message::Response(_))) => {}
                Ok(Input::Line(line)) => self.line(&line),
                Ok(Input::EngineGone) => {
                    if let Some(end) = self.engine_gone() {
                        return end;
                    }
                }
                Ok(Input::EditorGone) | Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            if self.dirty && self.last_publish.is_none_or(|t| t.elapsed() >= PUBLISH_EVERY) {
                self.publish();
            }
        }
    }

    fn send(&self, msg: impl Into<Message>) {
        let _ = self.conn.sender.send(msg.into());
    }

    fn log(&self, text: &str) {
        tracing::info!("{text}");
        self.send(Notification::new(
            "window/logMessage".into(),
            lsp_types::LogMessageParams {
                typ: lsp_types::MessageType::INFO,
                message: text.to_owned(),
            },
        ));
    }

    fn show(&self, typ: lsp_types::MessageType, text: &str) {
        self.send(Notification::new(
            "window/showMessage".into(),
            lsp_types::ShowMessageParams {
                typ,
                message: text.to_owned(),
            },
        ));
    }

    /// Sends the engine a command; `false` when none is attached.
    fn ask(&mut self, words: &[String], asked: Asked) -> bool {
        let Some(w) = self.engine.as_mut() else { return false };
        self.next_id += 1;
        let id = self.next_id;
        if w.send(words, id).is_err() {
            return false;
        }
        self.asked.insert(id, asked);
        true
    }

    fn request(&mut self, req: Request) {
        let id = req.id.clone();
        match req.method.as_str() {
            "shutdown" => {
                self.shutting_down = true;
                self.send(Response::new_ok(id, Value::Null));
            }
            "textDocument/codeLens" => {
                let params: Option<lsp_types::CodeLensParams> = serde_json::from_value(req.params).ok();
                let lenses = params
                    .and_then(|p| path_of(&p.text_document.uri))
                    .map(|p| self.state.lenses(&p))
                    .unwrap_or_default();
                self.send(Response::new_ok(id, lenses));
            }
            "textDocument/hover" => {
                let params: Option<lsp_types::HoverParams> = serde_json::from_value(req.params).ok();
                let Some((path, line)) = params.and_then(|p| {
                    let pos = p.text_document_position_params;
                    path_of(&pos.text_document.uri).map(|path| (path, pos.position.line + 1))
                }) else {
                    self.send(Response::new_ok(id, Value::Null));
                    return;
                };
                let rel = path.strip_prefix(&self.root).unwrap_or(&path).display().to_string();
                let words = vec!["reached".to_owned(), rel, line.to_string()];
                if !self.ask(
                    &words,
                    Asked::Hover {
                        request: id.clone(),
                        line,
                    },
                ) {
                    self.send(Response::new_ok(id, Value::Null));
                }
            }
            "workspace/executeCommand" => {
                let params: Option<lsp_types::ExecuteCommandParams> = serde_json::from_value(req.params).ok();
                let Some(p) = params else {
                    self.send(Response::new_err(id, -32602, "invalid parameters".into()));
                    return;
                };
                let args: Vec<String> = p
                    .arguments
                    .iter()
                    .filter_map(|a| a.as_str().map(str::to_owned))
                    .collect();
                let words: Option<Vec<String>> = match p.command.as_str() {
                    "vigil.rerun" => Some([vec!["rerun".to_owned()], args].concat()),
                    "vigil.open" => Some([vec!["open".to_owned()], args].concat()),
                    "vigil.rerunFailed" => Some(vec!["rerun-failed".into()]),
                    "vigil.runAll" => Some(vec!["run-all".into()]),
                    "vigil.cancel" => Some(vec!["cancel".into()]),
                    _ => None,
                };
                match words {
                    None => self.send(Response::new_err(id, -32601, format!("unknown command {}", p.command))),
                    Some(w) if self.ask(&w, Asked::Command) => self.send(Response::new_ok(id, Value::Null)),
                    Some(_) => self.send(Response::new_err(id, -32603, "no vigil is attached".into())),
                }
            }
            _ => self.send(Response::new_err(id, -32601, format!("{} is not served", req.method))),
        }
    }

    fn notification(&mut self, n: Notification) {
        match n.method.as_str() {
            "textDocument/didOpen" => {
                if let Ok(p) = serde_json::from_value::<lsp_types::DidOpenTextDocumentParams>(n.params) {
                    if let Some(path) = path_of(&p.text_document.uri) {
                        self.state.set_text(&path, &p.text_document.text);
                    }
                }
            }
            "textDocument/didChange" => {
                if let Ok(p) = serde_json::from_value::<lsp_types::DidChangeTextDocumentParams>(n.params) {
                    if let (Some(path), Some(change)) = (path_of(&p.text_document.uri), p.content_changes.last()) {
                        self.state.set_text(&path, &change.text);
                    }
                }
            }
            _ => {}
        }
    }

    /// One line from the engine: the snapshot, a reply, or an event.
    fn line(&mut self, line: &str) {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            return;
        };
        let asked = v["id"].as_u64().and_then(|id| self.asked.remove(&id));
        match v["event"].as_str() {
            Some("snapshot") => {
                if let Ok(snap) = serde_json::from_value::<crate::core::snapshot::Snapshot>(v) {
                    self.state.apply_snapshot(&snap);
                    self.dirty = true;
                }
            }
            Some("reply") => match asked {
                Some(Asked::Hover { request, line }) => {
                    let tests: Vec<crate::core::command::TestBrief> =
                        serde_json::from_value(v["tests"].clone()).unwrap_or_default();
                    let text = state::hover_text(&tests, v["measured"] == true, line);
                    let hover = text.map(|t| Hover {
                        contents: HoverContents::Markup(MarkupContent {
                            kind: MarkupKind::Markdown,
                            value: t,
                        }),
                        range: None,
                    });
                    self.send(Response::new_ok(request, hover));
                }
                Some(Asked::Command) => {
                    let typ = if v["ok"] == true {
                        lsp_types::MessageType::INFO
                    } else {
                        lsp_types::MessageType::WARNING
                    };
                    self.show(typ, &format!("vigil: {}", v["message"].as_str().unwrap_or_default()));
                }
                Some(Asked::Snapshot) | None => {}
            },
            Some(_) => {
                let Ok(report) = serde_json::from_value::<crate::core::report::Report>(v) else {
                    return;
                };
                if self.state.apply(&report) {
                    self.dirty = true;
                }
                // Stale marks come with the snapshot: a change started a run.
                if matches!(report, crate::core::report::Report::RunStarted { .. }) {
                    self.ask(&["snapshot".to_owned()], Asked::Snapshot);
                }
            }
            None => {}
        }
    }

    /// The engine went away: hovers waiting for it get nothing, and the
    /// server attaches again (to a vigil started meanwhile, or its own).
    /// Its own engine stopping (a signal) ends the server: `Some(end)`.
    fn engine_gone(&mut self) -> Option<Result<(), String>> {
        self.engine = None;
        for (_, asked) in std::mem::take(&mut self.asked) {
            if let Asked::Hover { request, .. } = asked {
                self.send(Response::new_ok(request, Value::Null));
            }
        }
        if self.shutting_down {
            return None;
        }
        if let Some(owned) = self.owned.take() {
            // Its socket closes as it stops: let it finish stopping.
            let deadline = Instant::now() + Duration::from_secs(10);
            while !owned.thread.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if owned.thread.is_finished() {
                let _ = owned.thread.join();
                self.show(lsp_types::MessageType::ERROR, "vigil's engine stopped");
                return Some(Err("the engine this server started stopped".into()));
            }
            self.owned = Some(owned);
        }
        self.log("the vigil this server was attached to stopped; attaching again");
        match crate::adapters::workspace::discover_members(&self.root) {
            Ok(ws) => self.attach(ws),
            Err(e) => self.show(lsp_types::MessageType::ERROR, &e.to_string()),
        }
        None
    }

    /// Sends the diagnostics of every file whose diagnostics changed.
    fn publish(&mut self) {
        self.dirty = false;
        self.last_publish = Some(Instant::now());
        let now = self.state.diagnostics();
        let files: Vec<PathBuf> = now.keys().chain(self.published.keys()).cloned().collect();
        for path in files {
            let (new, old) = (now.get(&path), self.published.get(&path));
            if new == old {
                continue;
            }
            let Some(uri) = uri_of(&path) else { continue };
            self.send(Notification::new(
                "textDocument/publishDiagnostics".into(),
                PublishDiagnosticsParams {
                    uri,
                    diagnostics: new.cloned().unwrap_or_default(),
                    version: None,
                },
            ));
        }
        self.published = now;
        if self.lens_refresh && self.last_lens_refresh.is_none_or(|t| t.elapsed() >= LENS_REFRESH_EVERY) {
            self.last_lens_refresh = Some(Instant::now());
            self.next_id += 1;
            self.send(Request::new(
                RequestId::from(format!("vigil-{}", self.next_id)),
                "workspace/codeLens/refresh".into(),
                Value::Null,
            ));
        }
    }
}

/// A `file://` URI's path.
pub fn path_of(uri: &Uri) -> Option<PathBuf> {
    let rest = uri.as_str().strip_prefix("file://")?;
    let rest = rest.strip_prefix("localhost").unwrap_or(rest);
    let bytes = rest.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&rest[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    use std::os::unix::ffi::OsStringExt;
    Some(PathBuf::from(std::ffi::OsString::from_vec(out)))
}

/// A path's `file://` URI.
pub fn uri_of(path: &Path) -> Option<Uri> {
    use std::os::unix::ffi::OsStrExt;
    let mut s = String::from("file://");
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_uris_round_trip() {
        let p = Path::new("/w/my crate/src/lib.rs");
        let uri = uri_of(p).unwrap();
        assert_eq!(uri.as_str(), "file:///w/my%20crate/src/lib.rs");
        assert_eq!(path_of(&uri).unwrap(), p);
        let u: Uri = "file:///a/%C3%A9.rs".parse().unwrap();
        assert_eq!(path_of(&u).unwrap(), Path::new("/a/é.rs"));
    }
}
