//! End to end for editors: the engine's socket with real clients, `vigil
//! lsp` driven by a scripted JSON-RPC client, and Neovim itself, all on
//! the real `shop` fixture (its failing `refund_partial`).

use crate::common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{copy_dir, fixture, live_processes, state_dir, vigil};
use serde_json::{json, Value};

/// Lines of JSON from a reader, on a channel.
fn json_lines(read: impl Read + Send + 'static) -> mpsc::Receiver<Value> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(read).lines().map_while(Result::ok) {
            let Ok(v) = serde_json::from_str(&line) else { continue };
            if tx.send(v).is_err() {
                return;
            }
        }
    });
    rx
}

fn wait_for(rx: &mpsc::Receiver<Value>, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(v) if pred(&v) => return v,
            Ok(v) => seen.push(v.to_string().chars().take(200).collect::<String>()),
            Err(_) => panic!("timed out waiting for {what}; seen:\n{}", seen.join("\n")),
        }
    }
}

/// A socket client: its lines, and a way to write commands.
struct Client {
    lines: mpsc::Receiver<Value>,
    stream: UnixStream,
}

impl Client {
    fn connect(socket: &Path) -> Self {
        // The state directory's path can be longer than `sun_path` holds:
        // through its directory, as vigil's own clients do.
        let stream =
            vigil::adapters::server::connect(socket).unwrap_or_else(|e| panic!("connect {}: {e}", socket.display()));
        Client {
            lines: json_lines(stream.try_clone().unwrap()),
            stream,
        }
    }

    fn send(&mut self, line: &str) {
        self.stream.write_all(format!("{line}\n").as_bytes()).unwrap();
    }
}

/// `vigil watch --no-tui --format json` on a workspace, stopped (SIGINT) on drop.
struct Watch {
    child: Child,
    lines: mpsc::Receiver<Value>,
}

impl Watch {
    fn start(root: &Path) -> Self {
        let mut child = vigil()
            .args(["watch", "--no-tui", "--format", "json"])
            .arg(root)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = json_lines(child.stdout.take().unwrap());
        Watch { child, lines }
    }

    fn stop(&mut self) -> i32 {
        // SAFETY: signalling our own child.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGINT);
        }
        self.child.wait().unwrap().code().unwrap_or(-1)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.stop();
        }
    }
}

/// Processes that inherited this test's state directory (vigil, and the
/// cargo, nextest and tests it started), polled for five seconds; what is
/// still there then.
fn processes_left() -> Vec<String> {
    let needle = format!("VIGIL_STATE_DIR={}", state_dir().display());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left: Vec<String> = live_processes()
            .into_iter()
            .filter(|(_, dir)| {
                let env = std::fs::read(dir.join("environ")).unwrap_or_default();
                env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes())
            })
            .map(|(pid, dir)| {
                let cmd = std::fs::read(dir.join("cmdline")).unwrap_or_default();
                format!("{pid}: {}", String::from_utf8_lossy(&cmd).replace('\0', " "))
            })
            .collect();
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn socket() -> PathBuf {
    state_dir().join("vigil.sock")
}

#[test]
fn the_socket_serves_two_clients_survives_one_that_leaves_and_replaces_a_stale_socket() {
    let shop = fixture("shop");
    // A socket left by a vigil that was killed: nobody listens on it.
    let _ = std::fs::remove_dir_all(state_dir());
    std::fs::create_dir_all(state_dir()).unwrap();
    let (short, _dir) = vigil::adapters::server::addressable(&socket()).unwrap();
    drop(std::os::unix::net::UnixListener::bind(short).unwrap());
    assert!(socket().exists());
    let mut watch = Watch::start(&shop);
    wait_for(&watch.lines, "run 1 to finish", |v| {
        v["event"] == "run_finished" && v["run"] == 1
    });
    // The live LCOV file, for editors' coverage gutters.
    // Written off the loop as the run ends.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !state_dir().join("lcov.info").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let lcov = std::fs::read_to_string(state_dir().join("lcov.info")).expect("lcov.info after a coverage run");
    assert!(
        lcov.contains(&format!("SF:{}", shop.join("orders/src/lib.rs").display())),
        "{lcov}"
    );
    assert!(lcov.contains("end_of_record"));
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let meta = std::fs::metadata(socket()).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o600,
        "the socket is the user's alone"
    );

    let mut a = Client::connect(&socket());
    let mut b = Client::connect(&socket());
    for c in [&a, &b] {
        let snap = wait_for(&c.lines, "the snapshot", |v| v["event"] == "snapshot");
        assert_eq!(snap["run"]["run"], 1);
        assert_eq!(snap["tests"]["failed"], 1, "{snap}");
        let checkout = snap["suites"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["binary_id"] == "orders::checkout")
            .expect("the checkout suite");
        let refund = checkout["tests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "refund_partial")
            .unwrap();
        assert_eq!(refund["state"], "failed");
        assert_eq!(refund["location"]["line"], 11);
        assert_eq!(refund["assertion"]["left"], "50");
    }
    // A third client asks for a run and leaves before any of it arrives.
    {
        let mut c = Client::connect(&socket());
        c.send(r#"{"command":"run-all","id":1}"#);
    }
    let started = wait_for(&a.lines, "the run the third client asked for", |v| {
        v["event"] == "run_started"
    });
    assert_eq!(started["trigger"], "client");
    wait_for(&a.lines, "run 2 to finish (client a)", |v| {
        v["event"] == "run_finished" && v["run"] == 2
    });
    wait_for(&b.lines, "run 2 to finish (client b)", |v| {
        v["event"] == "run_finished" && v["run"] == 2
    });
    // Answers go to the client that asked, alone.
    a.send("reached orders/src/lib.rs 4");
    let reply = wait_for(&a.lines, "the reply", |v| v["event"] == "reply");
    assert_eq!(reply["ok"], true, "{reply}");
    let names: Vec<&str> = reply["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"refund_partial") && names.contains(&"applies_discount"),
        "{names:?}"
    );
    a.send("rerun nope");
    let reply = wait_for(&a.lines, "the refusal", |v| v["event"] == "reply");
    assert_eq!(reply["ok"], false);
    assert!(reply["message"].as_str().unwrap().contains("no test `nope`"), "{reply}");
    b.send(r#"{"command":"snapshot","id":9}"#);
    let again = wait_for(&b.lines, "the snapshot asked for", |v| v["event"] == "snapshot");
    assert_eq!((again["id"].as_u64(), again["run"]["run"].as_u64()), (Some(9), Some(2)));
    assert!(
        a.lines.recv_timeout(Duration::from_millis(300)).is_err(),
        "b's snapshot is not a's"
    );

    refuses_another_user(&socket());

    assert_eq!(watch.stop(), 1, "the gate fails on refund_partial");
    assert!(!socket().exists(), "the socket is removed on exit");
    let left = processes_left();
    assert!(left.is_empty(), "left running: {left:?}");
}

/// A client of another user: the socket's mode keeps it out; opened up
/// (chmod 0666), the peer credentials do.
fn refuses_another_user(socket: &Path) {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert!(
            std::env::var("CI").is_err(),
            "CI runs as root, which can start a client as another user"
        );
        eprintln!("SKIPPED: the other-user check needs root to start a client as `nobody`");
        return;
    }
    let script = "import os,socket,sys\ns=socket.socket(socket.AF_UNIX)\nd=os.open(os.path.dirname(sys.argv[1]),os.O_RDONLY)\ntry:\n    s.connect('/proc/self/fd/%d/vigil.sock' % d)\nexcept OSError as e:\n    print('CONNECT', e.errno); sys.exit(0)\nprint(s.makefile().readline().strip())\n";
    let as_nobody = || {
        use std::os::unix::process::CommandExt;
        let out = Command::new("python3")
            .args(["-c", script])
            .arg(socket)
            .uid(65534)
            .gid(65534)
            .output()
            .expect("python3 runs (.ci/run installs it)");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(as_nobody(), "CONNECT 13", "mode 0600 keeps another user out (EACCES)");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    let said = as_nobody();
    let v: Value = serde_json::from_str(&said).unwrap_or_else(|e| panic!("{e}: {said}"));
    assert_eq!(v["event"], "refused", "{said}");
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[test]
fn send_and_status_say_when_no_vigil_runs() {
    let _ = std::fs::remove_dir_all(state_dir());
    let out = vigil()
        .args(["send", "-C"])
        .arg(fixture("shop"))
        .arg("rerun-failed")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no vigil runs in this workspace"), "{err}");
    let out = vigil().arg("send").arg("frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown command `frobnicate`"));
    let out = vigil().arg("status").arg(fixture("shop")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no vigil runs"));
}

/// A JSON-RPC client over a child's stdin and stdout, as editors speak it.
struct Lsp {
    child: Child,
    messages: mpsc::Receiver<Value>,
    next: u64,
}

impl Lsp {
    fn start(workspace: &Path) -> Self {
        let mut child = vigil()
            .args(["lsp", "--workspace"])
            .arg(workspace)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let (tx, messages) = mpsc::channel();
        std::thread::spawn(move || loop {
            let mut length = None;
            loop {
                let mut header = String::new();
                if out.read_line(&mut header).unwrap_or(0) == 0 {
                    return;
                }
                let header = header.trim();
                if header.is_empty() {
                    break;
                }
                if let Some(n) = header.strip_prefix("Content-Length: ") {
                    length = n.parse::<usize>().ok();
                }
            }
            let mut body = vec![0; length.expect("a Content-Length header")];
            out.read_exact(&mut body).unwrap();
            let v: Value = serde_json::from_slice(&body).expect("the body is JSON");
            if tx.send(v).is_err() {
                return;
            }
        });
        Lsp {
            child,
            messages,
            next: 0,
        }
    }

    fn write(&mut self, v: Value) {
        let body = v.to_string();
        let stdin = self.child.stdin.as_mut().unwrap();
        write!(stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        stdin.flush().unwrap();
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.write(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Sends a request and waits for its response.
    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        self.write(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let response = wait_for(&self.messages, method, |m| m["id"] == id && m.get("method").is_none());
        assert!(response.get("error").is_none(), "{method}: {response}");
        response["result"].clone()
    }
}

impl Drop for Lsp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

fn title_of<'a>(lenses: &'a Value, name: &str) -> Option<&'a str> {
    lenses.as_array()?.iter().find_map(|l| {
        let c = &l["command"];
        (c["command"] == "vigil.rerun" && c["arguments"][1] == name).then(|| c["title"].as_str().unwrap_or(""))
    })
}

#[test]
fn the_language_server_puts_the_failing_test_on_its_line_with_lenses_hover_and_rerun() {
    let shop = fixture("shop");
    let _ = std::fs::remove_dir_all(state_dir());
    // No vigil runs there: `vigil lsp` starts an engine of its own.
    let mut lsp = Lsp::start(&shop);
    let init = lsp.request(
        "initialize",
        json!({"processId": null, "rootUri": uri(&shop), "capabilities": {}}),
    );
    assert_eq!(init["capabilities"]["hoverProvider"], true);
    assert!(init["capabilities"]["codeLensProvider"].is_object());
    lsp.notify("initialized", json!({}));
    let checkout = shop.join("orders/tests/checkout.rs");
    let text = std::fs::read_to_string(&checkout).unwrap();
    lsp.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri(&checkout), "languageId": "rust", "version": 1, "text": text}}),
    );
    let published = wait_for(&lsp.messages, "the failing test's diagnostics", |m| {
        m["method"] == "textDocument/publishDiagnostics"
            && m["params"]["uri"] == uri(&checkout)
            && !m["params"]["diagnostics"].as_array().unwrap().is_empty()
    });
    let diags = published["params"]["diagnostics"].as_array().unwrap();
    let fn_line = text.lines().position(|l| l.contains("fn refund_partial")).unwrap() as u64;
    let panic_line = text.lines().position(|l| l.contains("assert_eq!(total(&[50]")).unwrap() as u64;
    let at = |line: u64| {
        diags
            .iter()
            .find(|d| d["range"]["start"]["line"] == line)
            .unwrap_or_else(|| panic!("a diagnostic on line {line}: {diags:#?}"))
    };
    let panic = at(panic_line);
    assert_eq!(panic["severity"], 1, "an error");
    assert_eq!(panic["range"]["start"]["character"], 4, "at the panic's column");
    let message = panic["message"].as_str().unwrap();
    assert!(message.contains("`refund_partial` failed"), "{message}");
    assert!(message.contains("refund must keep the fee"), "{message}");
    assert!(
        message.contains("left: 50") && message.contains("right: 40"),
        "{message}"
    );
    assert_eq!(at(fn_line)["code"], "test-failed", "also on the test's own fn");
    assert_eq!(diags.len(), 2, "nothing for the tests that passed: {diags:#?}");

    // The failure shows as soon as it ends; the rest of the run follows.
    let deadline = Instant::now() + Duration::from_secs(120);
    let lenses = loop {
        let lenses = lsp.request(
            "textDocument/codeLens",
            json!({"textDocument": {"uri": uri(&checkout)}}),
        );
        let titles = ["refund_partial", "applies_discount", "rounding_known_bug"].map(|n| title_of(&lenses, n));
        let ended = |t: &str| t.ends_with("run 1") && !t.contains("running") && !t.contains("queued");
        if titles.iter().all(|t| t.is_some_and(ended)) {
            break lenses;
        }
        assert!(Instant::now() < deadline, "run 1 never ended: {lenses:#}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        title_of(&lenses, "refund_partial"),
        Some("✗ failed · run 1"),
        "{lenses:#}"
    );
    let passed = title_of(&lenses, "applies_discount").unwrap();
    assert!(passed.starts_with("✓ ") && passed.ends_with(" ms · run 1"), "{passed}");
    assert_eq!(
        title_of(&lenses, "rounding_known_bug"),
        Some("✓ failed as expected · run 1")
    );

    // Coverage maps come after the run: hover asks the engine for them.
    let lib = shop.join("orders/src/lib.rs");
    let line = std::fs::read_to_string(&lib)
        .unwrap()
        .lines()
        .position(|l| l.contains("money::percent_of(sum"))
        .unwrap();
    let hover_text = |lsp: &mut Lsp| {
        let hover = lsp.request(
            "textDocument/hover",
            json!({"textDocument": {"uri": uri(&lib)}, "position": {"line": line, "character": 4}}),
        );
        hover["contents"]["value"].as_str().unwrap_or("").to_owned()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut hover = hover_text(&mut lsp);
    while !hover.contains("reached by") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        hover = hover_text(&mut lsp);
    }
    assert!(hover.starts_with("vigil: reached by 5 tests: "), "{hover}");
    assert!(
        hover.contains("`refund_partial`") && hover.ends_with("(1 failing)"),
        "{hover}"
    );

    // The lens's command reruns the test, through the engine.
    let rerun = lenses
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["command"]["command"] == "vigil.rerun" && l["command"]["arguments"][1] == "refund_partial")
        .unwrap()["command"]
        .clone();
    lsp.request(
        "workspace/executeCommand",
        json!({"command": rerun["command"], "arguments": rerun["arguments"]}),
    );
    let said = wait_for(&lsp.messages, "the engine's answer", |m| {
        m["method"] == "window/showMessage"
    });
    assert_eq!(
        said["params"]["message"],
        "vigil: rerunning orders::checkout refund_partial (1 test)"
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let lenses = lsp.request(
            "textDocument/codeLens",
            json!({"textDocument": {"uri": uri(&checkout)}}),
        );
        if title_of(&lenses, "refund_partial") == Some("✗ failed · run 2") {
            assert!(
                title_of(&lenses, "applies_discount").unwrap().ends_with("run 1"),
                "only the test asked for reran: {lenses:#}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "run 2 never showed: {lenses:#}");
        std::thread::sleep(Duration::from_millis(200));
    }

    lsp.request("shutdown", Value::Null);
    lsp.notify("exit", Value::Null);
    let status = lsp.child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(!socket().exists(), "its engine's socket is gone");
    let left = processes_left();
    assert!(left.is_empty(), "left running: {left:?}");
}

/// Neovim from Debian's packages (0.7.2: `vim.lsp.start_client`), headless,
/// with a minimal init that starts `vigil lsp`.
#[test]
fn neovim_shows_the_failing_test_and_drops_it_once_the_code_is_fixed() {
    if Command::new("nvim").arg("--version").output().is_err() {
        assert!(
            std::env::var("CI").is_err(),
            "nvim must be installed in CI (.ci/run installs Debian's neovim)"
        );
        eprintln!("SKIPPED: nvim is not installed (apt-get install neovim)");
        return;
    }
    // A copy: the test fixes the code.
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("nvim-shop-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    copy_dir(&fixture("shop"), &root);
    let _ = std::fs::remove_dir_all(root.join("target"));
    let _ = std::fs::remove_dir_all(state_dir());
    let out = root.join("nvim-result.json");
    let init = root.join("init.lua");
    std::fs::write(
        &init,
        format!(
            r#"
local out = {{}}
local function finish(ok, why)
  out.ok = ok; out.why = why
  local f = io.open({out:?}, "w"); f:write(vim.fn.json_encode(out)); f:close()
  vim.cmd("qall!")
end
local client = vim.lsp.start_client({{
  name = "vigil",
  cmd = {{ {vigil:?}, "lsp", "--workspace", {root:?} }},
  root_dir = {root:?},
}})
vim.cmd("edit " .. {file:?})
vim.lsp.buf_attach_client(0, client)
local function errors()
  return vim.diagnostic.get(0, {{ severity = vim.diagnostic.severity.ERROR }})
end
if not vim.wait(240000, function() return #errors() > 0 end, 100) then
  return finish(false, "no diagnostic came")
end
out.diagnostics = {{}}
for _, d in ipairs(errors()) do
  table.insert(out.diagnostics, {{ lnum = d.lnum, col = d.col, message = d.message, source = d.source }})
end
-- Hover on the function every checkout test runs, once the maps are in.
vim.cmd("edit " .. {lib:?})
vim.lsp.buf_attach_client(0, client)
local lib = vim.api.nvim_get_current_buf()
local line = vim.fn.search("money::percent_of(sum") - 1
out.hover = ""
vim.wait(60000, function()
  local r = vim.lsp.buf_request_sync(lib, "textDocument/hover",
    {{ textDocument = {{ uri = vim.uri_from_bufnr(lib) }}, position = {{ line = line, character = 4 }} }}, 5000)
  for _, res in pairs(r or {{}}) do
    if res.result and res.result.contents then out.hover = res.result.contents.value end
  end
  return out.hover:find("reached by") ~= nil
end, 200)
-- Fix the code and save: the watcher reruns the test, and it passes.
vim.cmd("edit " .. {file:?})
vim.cmd([[%s/(total(&\[50\], 0), 40,/(total(\&[50], 0), 50,/]])
vim.cmd("write")
out.fixed = vim.wait(240000, function() return #errors() == 0 end, 100)
finish(true, "")
"#,
            out = out.display().to_string(),
            vigil = env!("CARGO_BIN_EXE_vigil"),
            root = root.display().to_string(),
            file = root.join("orders/tests/checkout.rs").display().to_string(),
            lib = root.join("orders/src/lib.rs").display().to_string(),
        ),
    )
    .unwrap();
    let mut cmd = Command::new("nvim");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("NEXTEST") {
            cmd.env_remove(key);
        }
    }
    let status = cmd
        .args(["--headless", "-n", "-i", "NONE", "-u"])
        .arg(&init)
        .env("VIGIL_STATE_DIR", state_dir())
        .env("XDG_STATE_HOME", root.join("xdg"))
        .env("XDG_DATA_HOME", root.join("xdg"))
        .current_dir(&root)
        .stdin(Stdio::null())
        .status()
        .unwrap();
    let result = std::fs::read_to_string(&out).unwrap_or_else(|e| panic!("nvim wrote no result ({e}; {status})"));
    let v: Value = serde_json::from_str(&result).unwrap();
    assert_eq!(v["ok"], true, "{v:#}");
    let diags = v["diagnostics"].as_array().unwrap();
    let text = std::fs::read_to_string(fixture("shop").join("orders/tests/checkout.rs")).unwrap();
    let panic_line = text.lines().position(|l| l.contains("assert_eq!(total(&[50]")).unwrap();
    let d = diags
        .iter()
        .find(|d| d["lnum"] == panic_line)
        .unwrap_or_else(|| panic!("a diagnostic at the panic: {v:#}"));
    assert_eq!(d["source"], "vigil");
    assert!(d["message"].as_str().unwrap().contains("left: 50"), "{v:#}");
    assert!(v["hover"].as_str().unwrap().starts_with("vigil: reached by "), "{v:#}");
    let fixed = std::fs::read_to_string(root.join("orders/tests/checkout.rs")).unwrap();
    assert!(fixed.contains("total(&[50], 0), 50,"), "Neovim saved the fix:\n{fixed}");
    assert_eq!(v["fixed"], true, "the diagnostic went once the fix was saved: {v:#}");
    let left = processes_left();
    assert!(left.is_empty(), "left running: {left:?}");
    let _ = std::fs::remove_dir_all(&root);
}
