//! The keys, as the help and the README list them: the core's table
//! (`core::keymap`), from which dispatch is derived too.

pub use crate::core::keymap::{Binding, INSTA_KEYMAP, KEYMAP};
