//! Adapters: the only code that talks to cargo, nextest, the OS and the
//! clock. Outside formats become core types here, at the border.

pub mod bounded;
pub mod check;
pub mod clock;
pub mod coverage;
pub mod doctests;
pub mod editor;
pub mod fingerprint;
pub mod git;
pub mod html;
pub mod inputs;
pub mod keep;
pub mod lcov;
pub mod list_cache;
pub mod llvm;
pub mod log;
pub mod metadata_cache;
pub mod nextest;
pub mod nextest_json;
pub mod offload;
pub mod outputs;
pub mod process;
pub mod profile;
pub mod proxy;
pub mod reads;
pub mod resources;
pub mod server;
pub mod services;
pub mod snapshots;
pub mod sources;
pub mod store;
pub mod stream;
pub mod terminal;
pub mod watcher;
pub mod workspace;

/// Where vigil keeps its state for a workspace: the history, the coverage
/// profiles, the kept listing, its log. `target/vigil` unless
/// `VIGIL_STATE_DIR` names another place (one per concurrent session that
/// must not share results, such as tests over one fixture build).
pub fn state_dir(target_dir: &std::path::Path) -> std::path::PathBuf {
    match std::env::var_os("VIGIL_STATE_DIR") {
        Some(d) if !d.is_empty() => std::path::PathBuf::from(d),
        _ => target_dir.join("vigil"),
    }
}
