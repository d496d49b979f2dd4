//! `cargo nextest list --message-format json`: the test list.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = vigil::adapters::nextest_json::is_list_line(text);
    let _ = vigil::adapters::nextest_json::parse_list(text);
});
