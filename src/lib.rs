//! vigil: a terminal test monitor for Rust workspaces.
//!
//! `core` is pure state and logic; `adapters` talk to cargo, nextest and the
//! OS; `app` runs the one message loop; `sink` prints headless output.

pub mod adapters;
pub mod app;
pub mod client;
pub mod config;
pub mod core;
pub mod demo;
pub mod lsp;
pub mod sink;
pub mod ui;
