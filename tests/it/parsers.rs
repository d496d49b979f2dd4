//! Parser tests over recorded nextest and cargo output, including garbage
//! and every truncation of every recorded line: parsers never panic, and a
//! damaged line is reported as such, never misread.

use crate::common;

use vigil::adapters::nextest::parse_version;
use vigil::adapters::nextest_json::{binary_id, is_list_line, parse_list, LineError, StreamDecoder, StreamLine};
use vigil::adapters::workspace::parse_metadata;
use vigil::core::TestEventKind;

#[test]
fn list_names_every_suite_with_kind_and_ignored_tests() {
    let json = common::recorded("shop_list.json");
    assert!(is_list_line(&json));
    let suites = parse_list(&json).unwrap();
    let ids: Vec<&str> = suites.iter().map(|s| &*s.binary_id).collect();
    assert_eq!(ids, vec!["money", "orders", "orders::checkout", "orders::e2e_flow"]);
    let checkout = &suites[2];
    assert_eq!(
        (
            checkout.package.as_str(),
            checkout.binary_name.as_str(),
            checkout.kind.as_str()
        ),
        ("orders", "checkout", "test")
    );
    let ignored: Vec<&str> = checkout
        .tests
        .iter()
        .filter(|t| t.ignored)
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(ignored, vec!["pays_by_card"]);
    assert!(checkout.tests.iter().all(|t| t.selected != t.ignored));
    assert_eq!(suites.iter().map(|s| s.tests.len()).sum::<usize>(), 9);
}

#[test]
fn run_stream_decodes_into_test_events_of_known_binaries() {
    let suites = parse_list(&common::recorded("shop_list.json")).unwrap();
    let decoder = StreamDecoder::new(&suites);
    let (mut started, mut passed, mut failed, mut ignored, mut other) = (0, 0, 0, 0, 0);
    for line in common::recorded("shop_run.jsonl").lines() {
        match decoder.decode(line).unwrap() {
            StreamLine::Test(e) => {
                assert!(suites.iter().any(|s| s.binary_id == e.binary_id));
                match e.kind {
                    TestEventKind::Started { attempt } => {
                        assert_eq!(attempt, 1);
                        started += 1
                    }
                    TestEventKind::Passed { exec_time } => {
                        assert!(exec_time.is_some());
                        passed += 1
                    }
                    TestEventKind::Failed { .. } => failed += 1,
                    TestEventKind::Ignored => ignored += 1,
                    TestEventKind::Cancelled | TestEventKind::Blocked { .. } => {
                        unreachable!("nextest has no cancel or blocked event")
                    }
                }
            }
            StreamLine::Build(_) => panic!("a clean build has no diagnostics"),
            StreamLine::Other | StreamLine::Artifact { .. } | StreamLine::BuildFinished { .. } => other += 1,
        }
    }
    assert_eq!((started, passed, failed, ignored), (9, 6, 2, 1));
    assert!(other > 0, "suite events and cargo artifacts are recognised as other");
}

#[test]
fn a_run_streaming_before_its_list_is_decoded_from_suite_events() {
    let listed = StreamDecoder::new(&parse_list(&common::recorded("shop_list.json")).unwrap());
    let mut learned = StreamDecoder::default();
    let mut decoded = 0;
    for line in common::recorded("shop_run.jsonl").lines() {
        learned.learn(line);
        if let Ok(StreamLine::Test(expected)) = listed.decode(line) {
            assert_eq!(learned.decode(line), Ok(StreamLine::Test(expected)), "{line}");
            decoded += 1;
        }
    }
    assert!(decoded >= 9, "every test of the recorded run: {decoded}");
    assert_eq!(binary_id("app", "app", "lib"), "app");
    assert_eq!(binary_id("app", "locking", "test"), "app::locking");
    assert_eq!(binary_id("app", "cli", "bin"), "app::bin/cli");
    assert_eq!(binary_id("app", "fast", "bench"), "app::bench/fast");
}

#[test]
fn unknown_binary_is_its_own_error() {
    let decoder = StreamDecoder::new(&parse_list(&common::recorded("shop_list.json")).unwrap());
    let line = r#"{"type":"test","event":"started","name":"ghost::ghost$t"}"#;
    assert_eq!(
        decoder.decode(line),
        Err(LineError::UnknownBinary("ghost::ghost".into()))
    );
}

#[test]
fn every_truncation_of_every_recorded_line_is_handled() {
    let suites = parse_list(&common::recorded("shop_list.json")).unwrap();
    let decoder = StreamDecoder::new(&suites);
    let streams = [
        common::recorded("shop_run.jsonl"),
        common::recorded("shop_build_error.jsonl"),
    ];
    let mut checked = 0;
    for stream in &streams {
        for line in stream.lines() {
            let full = decoder.decode(line);
            assert!(full.is_ok(), "recorded line parses: {line}");
            for cut in (0..line.len()).filter(|i| line.is_char_boundary(*i)) {
                // A proper prefix of a JSON object is never a JSON object.
                assert_eq!(
                    decoder.decode(&line[..cut]),
                    Err(LineError::Malformed),
                    "prefix {cut} of {line}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 10_000);
    let list = common::recorded("shop_list.json");
    for cut in (0..list.len()).step_by(7) {
        assert!(parse_list(&list[..cut]).is_err());
    }
}

/// A deterministic generator (xorshift) so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn mutated_and_random_lines_never_panic() {
    let suites = parse_list(&common::recorded("shop_list.json")).unwrap();
    let decoder = StreamDecoder::new(&suites);
    let lines: Vec<String> = common::recorded("shop_run.jsonl").lines().map(str::to_owned).collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let alphabet = br#"{}[]":,\ abcdefghijklmnopqrstuvwxyz$#0123456789.-eE"#;
    for _ in 0..20_000 {
        let mut bytes = lines[(rng.next() % lines.len() as u64) as usize].clone().into_bytes();
        for _ in 0..(rng.next() % 4 + 1) {
            let pos = (rng.next() % bytes.len().max(1) as u64) as usize;
            let byte = alphabet[(rng.next() % alphabet.len() as u64) as usize];
            match rng.next() % 3 {
                0 if pos < bytes.len() => bytes[pos] = byte,
                1 => bytes.insert(pos.min(bytes.len()), byte),
                _ if pos < bytes.len() => {
                    bytes.remove(pos);
                }
                _ => {}
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        // Either a clean parse or a clean error: never a panic.
        let _ = decoder.decode(&text);
    }
    for _ in 0..5_000 {
        let len = (rng.next() % 200) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| (rng.next() & 0xff) as u8).collect();
        let _ = decoder.decode(&String::from_utf8_lossy(&bytes));
        let _ = parse_list(&String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn test_event_with_wrong_shapes_is_malformed() {
    let decoder = StreamDecoder::new(&parse_list(&common::recorded("shop_list.json")).unwrap());
    for line in [
        r#"{"type":"test","event":"ok"}"#,
        r#"{"type":"test","event":"ok","name":"money::money"}"#,
        r#"{"type":"test","event":"ok","name":5}"#,
        r#"{"event":"ok","name":"money::money$tests::adds"}"#,
        r#"[1,2,3]"#,
        "",
    ] {
        assert_eq!(decoder.decode(line), Err(LineError::Malformed), "{line}");
    }
    let negative = r#"{"type":"test","event":"ok","name":"money::money$tests::adds","exec_time":-1}"#;
    match decoder.decode(negative) {
        Ok(StreamLine::Test(e)) => assert_eq!(e.kind, TestEventKind::Passed { exec_time: None }),
        other => panic!("{other:?}"),
    }
}

#[test]
fn cargo_metadata_gives_members_targets_and_graph() {
    let ws = parse_metadata(&common::recorded("shop_metadata.json")).unwrap();
    let names: Vec<&str> = ws.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, vec!["money", "orders"]);
    assert_eq!(ws.package("orders").unwrap().deps, vec!["money".to_string()]);
    assert_eq!(ws.dependents("money"), vec!["orders".to_string()]);
    let orders = ws.package("orders").unwrap();
    assert!(orders
        .targets
        .iter()
        .any(|t| t.name == "checkout" && t.kinds == ["test"]));
    assert!(ws.root.ends_with("shop"));
}

#[test]
fn nextest_versions_parse() {
    assert_eq!(
        parse_version("cargo-nextest 0.9.143 (60fa45f63 2026-08-04)\nrelease: 0.9.143"),
        Some((0, 9, 143))
    );
    assert_eq!(parse_version("cargo-nextest 0.9.66-rc.1"), Some((0, 9, 66)));
    assert_eq!(parse_version("cargo-nextest"), None);
}

#[test]
fn binaries_a_filterset_rules_out_are_not_listed() {
    let suites = parse_list(&common::recorded("demo_list_filtered.json")).unwrap();
    let ids: Vec<&str> = suites.iter().map(|s| &*s.binary_id).collect();
    assert_eq!(ids, vec!["orders::checkout"]);
    let selected: Vec<&str> = suites[0]
        .tests
        .iter()
        .filter(|t| t.selected)
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(selected, vec!["refund_partial"]);
}

// Regressions from the fuzz targets (fuzz/, scripts/bench-fuzz.sh): each
// input that crashed one, read as the target read it.

/// A coverage mapping whose counts claimed more entries than the input
/// holds: vigil reserved room for them all ("capacity overflow"). Now an
/// error, as is the same bytes read as an ELF file.
#[test]
fn fuzz_coverage_mapping_with_a_huge_count_is_an_error_not_a_panic() {
    use vigil::adapters::profile::CoverageMap;
    let data = std::fs::read(common::fixture("fuzz/coverage_mapping-2166126d")).unwrap();
    let split = (u16::from_le_bytes([data[0], data[1]]) as usize).min(data.len() - 2);
    let (covmap, covfun) = data[2..].split_at(split);
    assert!(CoverageMap::from_sections(covmap, covfun).is_err());
    let file = common::state_dir().join("fuzz-elf");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, &data).unwrap();
    assert!(CoverageMap::read(&file).is_err());
}

/// Invalid UTF-8 in a line nextest printed: read lossily (each bad byte a
/// U+FFFD), never a panic, and the line after it read whole.
#[test]
fn fuzz_long_lines_with_invalid_utf8_read_lossily() {
    use vigil::adapters::bounded::{Bound, Line, LineReader};
    let mut data = std::fs::read(common::fixture("fuzz/long_lines-5d6dcdb1")).unwrap();
    data.extend_from_slice(b"\nafter\n");
    let dir = common::state_dir().join("fuzz-lines");
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let texts = rt.block_on(async {
        let mut r = LineReader::new(tokio::io::BufReader::new(&data[..]), Bound::new(&dir, 4096));
        let mut texts = Vec::new();
        loop {
            match r.next(false).await.unwrap() {
                Line::End => break,
                Line::Held => texts.push(r.text().into_owned()),
                Line::Shortened { line, .. } => texts.push(line),
            }
        }
        texts
    });
    assert_eq!(texts.last().map(String::as_str), Some("after\n"));
    assert!(texts.iter().any(|t| t.contains('\u{FFFD}')));
}
