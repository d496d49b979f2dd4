//! Raw profiles (`.profraw`), read natively for per-test maps: truncated,
//! corrupt or hostile files are errors, never panics or huge allocations.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = vigil::adapters::profile::parse_profraw(data);
    let _ = vigil::adapters::profile::profraw_names(data);
});
