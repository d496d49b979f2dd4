//! `vigil.toml`: any text is a config or an error naming what is wrong.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = vigil::config::Settings::parse(text);
});
