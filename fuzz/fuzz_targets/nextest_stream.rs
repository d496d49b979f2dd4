//! nextest's event stream (`--message-format libtest-json-plus`), a line at
//! a time, as the runner decodes it: suite lines teach the decoder its
//! binaries, test lines become events, a failure's output is parsed.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigil::adapters::nextest_json::StreamDecoder;

fuzz_target!(|text: &str| {
    let mut d = StreamDecoder::default();
    for line in text.lines() {
        d.learn(line);
        let _ = d.decode(line);
    }
    let _ = vigil::adapters::nextest_json::parse_failure(text, Some(text));
    let _ = vigil::adapters::nextest_json::split_test_name(text);
});
