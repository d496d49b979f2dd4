//! cargo's build messages (`--message-format json`, passed on by nextest):
//! any `message` object inside a compiler message, and whole lines.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigil::adapters::nextest_json::StreamDecoder;

fuzz_target!(|text: &str| {
    let d = StreamDecoder::default();
    let _ = d.decode(&format!(
        "{{\"reason\":\"compiler-message\",\"package_id\":\"p 0.1.0\",\"message\":{text}}}"
    ));
    let _ = d.decode(&format!("{{\"reason\":\"compiler-artifact\",{text}"));
    for line in text.lines() {
        let _ = d.decode(line);
    }
});
