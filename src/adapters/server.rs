//! The engine's socket: `vigil.sock` in the state directory (mode 0600,
//! peers of another user refused by their credentials, never TCP). A
//! client gets the snapshot, then every event `--format json` prints, as
//! JSON lines; what it writes (one command a line, words or JSON) arrives
//! on the loop as `Msg::Client`, and is answered to it alone.
//!
//! A client that cannot keep up (its queue of lines is full) is
//! disconnected rather than let grow vigil's memory or slow the loop.

use std::collections::HashMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;

use super::clock::Clock;
use crate::core::command::{Command, To};
use crate::core::ids::ClientId;
use crate::core::Msg;

/// The socket's name in the state directory.
pub const SOCKET: &str = "vigil.sock";

/// How many lines may wait for one client before it is cut off.
const QUEUE: usize = 65_536;

/// Where the engine of a workspace listens.
pub fn socket_path(target_dir: &Path) -> PathBuf {
    super::state_dir(target_dir).join(SOCKET)
}

/// A path short enough for `sun_path` (108 bytes): the socket's own when
/// it fits, else through a descriptor of its directory
/// (`/proc/self/fd/N/vigil.sock`, Linux), kept open while it is used.
pub fn addressable(path: &Path) -> std::io::Result<(PathBuf, Option<std::fs::File>)> {
    if path.as_os_str().len() < 100 || !cfg!(target_os = "linux") {
        return Ok((path.to_owned(), None));
    }
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Ok((path.to_owned(), None));
    };
    let fd = std::fs::File::open(dir)?;
    use std::os::fd::AsRawFd;
    let short = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd())).join(name);
    Ok((short, Some(fd)))
}

/// Connects to the socket at `path` (blocking), for `vigil send`,
/// `vigil status` and `vigil lsp`.
pub fn connect(path: &Path) -> std::io::Result<std::os::unix::net::UnixStream> {
    let (short, _dir) = addressable(path)?;
    std::os::unix::net::UnixStream::connect(short)
}

struct Client {
    tx: mpsc::Sender<Arc<str>>,
    /// Hears the events (its snapshot has been sent).
    live: bool,
    tasks: [tokio::task::AbortHandle; 2],
}

type Clients = Arc<Mutex<HashMap<ClientId, Client>>>;

/// The listening socket and its clients.
pub struct Server {
    path: PathBuf,
    /// The socket file's inode: removed at exit only if it is still ours.
    ino: u64,
    clients: Clients,
    accept: tokio::task::JoinHandle<()>,
}

fn lock(clients: &Clients) -> std::sync::MutexGuard<'_, HashMap<ClientId, Client>> {
    clients.lock().unwrap_or_else(|e| e.into_inner())
}

impl Server {
    /// Listens at `path`. A socket left by a vigil that died is replaced;
    /// one a running vigil answers on is left alone (an error that says
    /// so). Must be called within the runtime.
    pub fn start(path: &Path, msgs: mpsc::UnboundedSender<Msg>, clock: Clock) -> Result<Server, String> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("failed to create {}: {e}", dir.display()))?;
        }
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            if !meta.file_type().is_socket() {
                return Err(format!(
                    "{} is not a socket; remove it to let editors reach vigil",
                    path.display()
                ));
            }
            if connect(path).is_ok() {
                return Err(format!(
                    "another vigil already serves this workspace ({}); this one takes no clients",
                    path.display()
                ));
            }
            // Nobody answers: left by a vigil that was killed.
            tracing::info!("replacing the stale socket {}", path.display());
            let _ = std::fs::remove_file(path);
        }
        let (short, _dir) = addressable(path).map_err(|e| format!("failed to reach {}: {e}", path.display()))?;
        let listener =
            UnixListener::bind(&short).map_err(|e| format!("failed to listen on {}: {e}", path.display()))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("failed to restrict {}: {e}", path.display()))?;
        let ino = std::fs::metadata(path).map(|m| m.ino()).unwrap_or(0);
        let clients: Clients = Arc::default();
        let accept = tokio::spawn(accept_loop(listener, clients.clone(), msgs, clock));
        tracing::info!("listening on {}", path.display());
        Ok(Server {
            path: path.to_owned(),
            ino,
            clients,
            accept,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many clients are connected.
    pub fn clients(&self) -> usize {
        lock(&self.clients).len()
    }

    /// An event, to every client that has its snapshot (shared among
    /// them, made only when one listens).
    pub fn broadcast(&self, line: &str) {
        let mut clients = lock(&self.clients);
        let mut cut = Vec::new();
        let mut shared: Option<Arc<str>> = None;
        for (id, c) in clients.iter().filter(|(_, c)| c.live) {
            let line = shared.get_or_insert_with(|| Arc::from(line)).clone();
            if let Err(e) = c.tx.try_send(line) {
                cut.push((*id, matches!(e, mpsc::error::TrySendError::Full(_))));
            }
        }
        for (id, full) in cut {
            if full {
                tracing::info!("client {id} fell {QUEUE} lines behind: disconnected");
            }
            if let Some(c) = clients.remove(&id) {
                c.tasks.iter().for_each(|t| t.abort());
            }
        }
    }

    /// A line for one client; `subscribe`: it hears the events from now on.
    pub fn send(&self, client: ClientId, line: Arc<str>, subscribe: bool) {
        let mut clients = lock(&self.clients);
        if let Some(c) = clients.get_mut(&client) {
            if c.tx.try_send(line).is_ok() && subscribe {
                c.live = true;
            }
        }
    }

    /// Stops listening, disconnects every client, removes the socket (if
    /// it is still the one this server made).
    pub fn shutdown(&mut self) {
        self.accept.abort();
        for (_, c) in lock(&self.clients).drain() {
            c.tasks.iter().for_each(|t| t.abort());
        }
        if std::fs::metadata(&self.path).is_ok_and(|m| m.ino() == self.ino) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn accept_loop(listener: UnixListener, clients: Clients, msgs: mpsc::UnboundedSender<Msg>, clock: Clock) {
    let mut next = 0u64;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors, say: try again soon, never spin.
                tracing::info!("accepting a client failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        match stream.peer_cred() {
            Ok(cred) if cred.uid() == me => {}
            other => {
                let who = other.map_or_else(|e| format!("unknown ({e})"), |c| c.uid().to_string());
                tracing::info!("refused a client of uid {who}: not this vigil's user");
                tokio::spawn(refuse(stream));
                continue;
            }
        }
        next += 1;
        let id = ClientId(next);
        let (read, write) = stream.into_split();
        let (tx, rx) = mpsc::channel(QUEUE);
        // Held while its tasks start: one that ends at once finds it there.
        let mut held = lock(&clients);
        let writer = tokio::spawn(write_loop(rx, write, clients.clone(), id));
        let reader = tokio::spawn(read_loop(read, tx.clone(), msgs.clone(), clients.clone(), id, clock));
        held.insert(
            id,
            Client {
                tx,
                live: false,
                tasks: [writer.abort_handle(), reader.abort_handle()],
            },
        );
        drop(held);
        tracing::info!("client {id} connected");
        let _ = msgs.send(Msg::Client {
            to: To { client: id, id: None },
            command: Command::Snapshot,
            subscribe: true,
            at: clock.now(),
        });
    }
}

async fn refuse(mut stream: UnixStream) {
    let line = serde_json::json!({
        "event": "refused",
        "message": "this vigil serves only the user that started it",
    });
    let _ = stream.write_all(format!("{line}\n").as_bytes()).await;
    let _ = stream.shutdown().await;
}

async fn write_loop(
    mut rx: mpsc::Receiver<Arc<str>>,
    write: tokio::net::unix::OwnedWriteHalf,
    clients: Clients,
    id: ClientId,
) {
    let mut out = BufWriter::new(write);
    'outer: while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        // What is queued goes out in one write.
        while let Some(line) = next.take().or_else(|| rx.try_recv().ok()) {
            if out.write_all(line.as_bytes()).await.is_err() || out.write_all(b"\n").await.is_err() {
                break 'outer;
            }
        }
        if out.flush().await.is_err() {
            break;
        }
    }
    gone(&clients, id);
}

fn gone(clients: &Clients, id: ClientId) {
    if let Some(c) = lock(clients).remove(&id) {
        tracing::info!("client {id} disconnected");
        c.tasks.iter().for_each(|t| t.abort());
    }
}

/// A client's command line: JSON (`{"command":"rerun","args":[…],"id":1}`)
/// or words (`rerun orders::checkout refund_partial`).
pub fn parse_line(line: &str) -> Result<(Command, Option<u64>), String> {
    let line = line.trim();
    if line.starts_with('{') {
        #[derive(serde::Deserialize)]
        struct Wire {
            command: String,
            #[serde(default)]
            args: Vec<String>,
            #[serde(default)]
            id: Option<u64>,
        }
        let w: Wire = serde_json::from_str(line).map_err(|e| format!("not a command ({e})"))?;
        let mut words = vec![w.command.as_str()];
        words.extend(w.args.iter().map(String::as_str));
        return Command::parse(&words).map(|c| (c, w.id));
    }
    let words: Vec<&str> = line.split_whitespace().collect();
    Command::parse(&words).map(|c| (c, None))
}

async fn read_loop(
    read: tokio::net::unix::OwnedReadHalf,
    tx: mpsc::Sender<Arc<str>>,
    msgs: mpsc::UnboundedSender<Msg>,
    clients: Clients,
    id: ClientId,
    clock: Clock,
) {
    let mut lines = BufReader::new(read).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.trim().is_empty() {
            continue;
        }
        match parse_line(&line) {
            Ok((command, cid)) => {
                let _ = msgs.send(Msg::Client {
                    to: To { client: id, id: cid },
                    command,
                    subscribe: false,
                    at: clock.now(),
                });
            }
            Err(message) => {
                let reply = serde_json::json!({
                    "event": "reply", "id": null, "command": null, "ok": false, "message": message,
                });
                let _ = tx.try_send(Arc::from(reply.to_string()));
            }
        }
    }
    // The client closed its side: what is queued for it is dropped.
    gone(&clients, id);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_are_words_or_json() {
        assert_eq!(parse_line("rerun-failed\n"), Ok((Command::RerunFailed, None)));
        assert_eq!(
            parse_line(r#"{"command":"reached","args":["src/lib.rs","3"],"id":7}"#),
            Ok((
                Command::Reached {
                    file: "src/lib.rs".into(),
                    line: 3
                },
                Some(7)
            ))
        );
        assert!(parse_line(r#"{"cmd":"x"}"#).unwrap_err().contains("not a command"));
        assert!(parse_line("nope").is_err());
    }

    #[test]
    fn a_stale_socket_is_replaced_a_live_one_kept_and_a_file_left_alone() {
        let dir = std::env::temp_dir().join(format!("vigil-serve-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(SOCKET);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (tx, _rx) = mpsc::unbounded_channel();
            // Left by a vigil that was killed: nobody answers on it.
            drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
            let mut first = Server::start(&path, tx.clone(), Clock::start()).expect("a stale socket is replaced");
            let second = Server::start(&path, tx.clone(), Clock::start()).err().unwrap();
            assert!(second.contains("another vigil already serves"), "{second}");
            assert!(path.exists(), "the second leaves the first's socket");
            first.shutdown();
            assert!(!path.exists(), "removed on exit");
            std::fs::write(&path, "not a socket").unwrap();
            let e = Server::start(&path, tx, Clock::start()).err().unwrap();
            assert!(e.contains("is not a socket"), "{e}");
            assert_eq!(std::fs::read_to_string(&path).unwrap(), "not a socket");
        });
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn long_socket_paths_are_reached_through_the_directory() {
        let dir = std::env::temp_dir().join(format!("vigil-sock-{}-{}", std::process::id(), "x".repeat(90)));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(SOCKET);
        assert!(path.as_os_str().len() > 108);
        let (short, fd) = addressable(&path).unwrap();
        assert!(fd.is_some() && short.as_os_str().len() < 40, "{}", short.display());
        let listener = std::os::unix::net::UnixListener::bind(&short).unwrap();
        assert!(path.exists(), "bound at the real path");
        let _c = connect(&path).unwrap();
        assert!(listener.accept().is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
