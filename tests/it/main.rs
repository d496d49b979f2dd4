//! vigil's integration tests, one binary: each file below is a module, so
//! the library, SQLite, ratatui and tokio are linked once, not per file.
//! End-to-end modules (`e2e_*`) drive the real `vigil` binary on the
//! fixture workspaces under `tests/fixtures`; the others call the library.
// Tests and their helpers unwrap: a failure is the test's panic.
#![allow(clippy::unwrap_used)]

mod common;

mod config_files;
mod demo_files;
mod e2e_check;
mod e2e_coverage;
mod e2e_editor;
mod e2e_faults;
mod e2e_proxy;
mod e2e_reports;
mod e2e_run;
mod e2e_select;
mod e2e_services;
mod e2e_testmap;
mod e2e_tui;
mod e2e_watch;
mod layering;
mod parsers;
mod scenarios;
mod selection;
mod store;
mod tracer;
mod ui_view;
