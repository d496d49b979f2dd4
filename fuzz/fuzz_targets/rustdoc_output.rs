//! `cargo test --doc` output (rustdoc's human format, or libtest's JSON on
//! nightly), a line at a time, with outputs held to a small bound; each
//! package's block becomes a suite.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigil::adapters::doctests::{to_suite, DocParser};

fuzz_target!(|text: &str| {
    let dir = std::env::temp_dir().join(format!("vigil-fuzz-doc-{}", std::process::id()));
    let mut p = DocParser::with_bound(Some(vigil::adapters::bounded::Bound::new(&dir, 4096)));
    let ws = vigil::core::Workspace::default();
    for line in text.lines() {
        if let Some(doc) = p.line(line) {
            let _ = to_suite(&ws, &doc);
            for t in doc.tests {
                if let Some(w) = t.whole {
                    let _ = std::fs::remove_file(w.path);
                }
            }
        }
    }
});
