//! The LCOV vigil reads back (llvm-cov export's, and merged shards').
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let root = std::path::Path::new("/ws");
    let cov = vigil::adapters::lcov::parse(text, root);
    let _ = vigil::adapters::lcov::write(&cov, root);
});
