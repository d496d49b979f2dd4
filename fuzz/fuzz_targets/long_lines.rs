//! The bounded line reader over nextest's stdout: any bytes, a small bound
//! (so that lines spill), never a panic; a shortened line is what it hands
//! on, and it says so.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigil::adapters::bounded::{Bound, Line, LineReader};

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("vigil-fuzz-lines-{}", std::process::id()));
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(async {
        let bound = Bound::new(&dir, 4096);
        let mut r = LineReader::new(tokio::io::BufReader::with_capacity(512, data), bound);
        let mut held = 0;
        loop {
            match r.next(false).await {
                Ok(Line::End) | Err(_) => break,
                Ok(Line::Held) => held += r.text().len(),
                Ok(Line::Shortened { line, spilled }) => {
                    assert!(line.len() < 4096 + 64 * 1024 + 512, "{}", line.len());
                    if let Some(s) = spilled {
                        let _ = std::fs::remove_file(s.path);
                    }
                }
            }
        }
        // Lossy UTF-8: a bad byte reads as U+FFFD, three bytes.
        assert!(held <= 3 * data.len() + 1);
    });
});
