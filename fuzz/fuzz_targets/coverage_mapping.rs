//! Coverage mappings: the `__llvm_covmap` and `__llvm_covfun` sections
//! (the input's first two bytes say where the first ends), and whole ELF
//! files read from disk as vigil reads a test binary.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigil::adapters::profile::CoverageMap;

fuzz_target!(|data: &[u8]| {
    if data.len() >= 2 {
        let split = (u16::from_le_bytes([data[0], data[1]]) as usize).min(data.len() - 2);
        let (covmap, covfun) = data[2..].split_at(split);
        let _ = CoverageMap::from_sections(covmap, covfun);
    }
    let file = std::env::temp_dir().join(format!("vigil-fuzz-elf-{}", std::process::id()));
    if std::fs::write(&file, data).is_ok() {
        let _ = CoverageMap::read(&file);
    }
});
