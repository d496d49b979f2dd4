//! Builds the read tracer (`src/adapters/reads.c`), a small shared library
//! `vigil __runner` preloads into test processes on Linux, and hands its
//! bytes to the crate (`VIGIL_READS_SO`). Without a C compiler (the one
//! cargo links with) the library is empty and vigil says that read tracing
//! is off.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=src/adapters/reads.c");
    println!("cargo:rerun-if-env-changed=CC");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let so = out.join("libvigil_reads.so");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let built = linux
        && Command::new(&cc)
            .args(["-shared", "-fPIC", "-O2", "-U_FORTIFY_SOURCE", "-Wall", "-o"])
            .arg(&so)
            .arg("src/adapters/reads.c")
            .arg("-ldl")
            .status()
            .is_ok_and(|s| s.success());
    if !built {
        if linux {
            println!("cargo:warning=vigil: could not build the read tracer with `{cc}`: read tracing is off");
        }
        std::fs::write(&so, b"").expect("OUT_DIR is writable");
    }
    println!("cargo:rustc-env=VIGIL_READS_SO={}", so.display());
}
