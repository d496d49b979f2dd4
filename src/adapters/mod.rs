//! Adapters: the only code that talks to cargo, nextest, the OS and the
//! clock. Outside formats become core types here, at the border.

pub mod clock;
pub mod coverage;
pub mod fingerprint;
pub mod html;
pub mod inputs;
pub mod lcov;
pub mod list_cache;
pub mod llvm;
pub mod log;
pub mod metadata_cache;
pub mod nextest;
pub mod nextest_json;
pub mod outputs;
pub mod process;
pub mod resources;
pub mod sources;
pub mod store;
pub mod terminal;
pub mod watcher;
pub mod workspace;
