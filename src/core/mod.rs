//! The pure core: every state change of vigil happens here, from messages, and
//! comes back out as effects. Nothing in this module touches processes, files,
//! terminals or the wall clock; time arrives as data (`Duration` since the
//! app's start), so every scenario can be replayed in a test without sleeping.

pub mod assertion;
pub mod batching;
pub mod budget;
pub mod catalog;
pub mod check;
pub mod command;
pub mod coverage;
pub mod coverage_view;
pub mod effect;
pub mod estimate;
pub mod faults;
pub mod filterset;
pub mod finish;
pub mod gating;
pub mod glob;
pub mod graph;
pub mod history;
pub mod hygiene;
pub mod ids;
pub mod inputs;
pub mod insta;
pub mod keymap;
pub mod keys;
pub mod locate;
pub mod manifest;
pub mod model;
pub mod msg;
pub mod patch;
pub mod report;
pub mod rules;
pub mod run;
pub mod select;
pub mod select_tests;
pub mod services;
pub mod snapshot;
pub mod sweep;
pub mod syntax;
pub mod test_state;
pub mod testmap;
pub mod timeline;
pub mod tree;
pub mod ui_state;
pub mod units;
pub mod update;

pub use catalog::{Catalog, Package, Suite, SuiteType, Workspace};
pub use effect::Effect;
pub use model::Model;
pub use msg::{BuildDiagnostic, ListedSuite, ListedTest, Msg, TestEvent, TestEventKind};
pub use report::Report;
pub use run::{Outcome, Run, RunId, Selection, Trigger};
pub use test_state::TestCase;
pub use test_state::TestState;
pub use ui_state::{Key, RowKey, UiState};
pub use update::update;
