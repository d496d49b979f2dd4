//! A change's attribution (the selection's lexer and parser): two texts
//! of one file, split at the first NUL; placed or refused, never a panic,
//! and the same way twice.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let (old, new) = text.split_once('\0').unwrap_or((text, ""));
    let a = vigil::core::syntax::attribute(old, new);
    assert_eq!(a, vigil::core::syntax::attribute(old, new));
});
