//! The shipped example config parses, and its uncommented values are the
//! defaults (or the documented examples).

use vigil::config::Settings;
use vigil::core::glob::Glob;
use vigil::core::model::Rules;

#[test]
fn example_config_parses_and_matches_the_defaults() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.toml")).unwrap();
    let settings = Settings::parse(&text).unwrap_or_else(|e| panic!("config.example.toml: {e}"));
    assert_eq!(settings.rules.e2e_patterns, Rules::default().e2e_patterns);
    let x = &settings.rules.xfail;
    assert_eq!(x.len(), 1);
    assert_eq!(x[0].pattern, Glob::new("orders::checkout::rounding_*"));
    assert!(!x[0].strict);
    assert_eq!(settings.debounce, vigil::config::DEFAULT_DEBOUNCE);
    assert_eq!(settings.rules.on_change, Rules::default().on_change);
    let (b, d) = (&settings.rules.budgets, &Rules::default().budgets);
    assert_eq!(
        (b.unit, b.integration, b.e2e, b.test, b.enforce),
        (d.unit, d.integration, d.e2e, d.test, d.enforce)
    );
    assert_eq!(b.overrides.len(), 1);
    assert_eq!(
        settings.rules.hygiene,
        Rules::default().hygiene,
        "hygiene is off by default"
    );
    assert_eq!(
        (settings.coverage, settings.branch),
        (vigil::config::Mode::Auto, vigil::config::Mode::Auto)
    );
    let t = &settings.rules.coverage;
    assert_eq!(
        (t.len(), t[0].path.is_none(), t[0].lines, t[0].branches),
        (1, true, Some(70.0), None)
    );
    assert_eq!(
        b.test_limit("money", "tests::slow_rounding"),
        Some(std::time::Duration::from_secs(2))
    );
}

#[test]
fn fixture_config_parses() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/shop/vigil.toml")).unwrap();
    assert!(Settings::parse(&text).is_ok());
}

#[test]
fn the_live_lcov_file_is_the_state_directorys_a_path_or_off() {
    use vigil::config::LiveLcov;
    let parse = |t: &str| Settings::parse(t).map(|s| s.live_lcov);
    assert_eq!(parse(""), Ok(LiveLcov::StateDir));
    assert_eq!(parse("[coverage]\nlive_lcov = \"off\"\n"), Ok(LiveLcov::Off));
    assert_eq!(
        parse("[coverage]\nlive_lcov = \"cov/lcov.info\"\n"),
        Ok(LiveLcov::At("cov/lcov.info".into()))
    );
    assert!(parse("[coverage]\nlive_lcov = \"\"\n")
        .unwrap_err()
        .contains("live_lcov"));
    let (root, target) = (std::path::Path::new("/w"), std::path::Path::new("/w/target"));
    assert_eq!(
        LiveLcov::At("cov/l.info".into()).path(root, target),
        Some("/w/cov/l.info".into())
    );
    assert_eq!(LiveLcov::Off.path(root, target), None);
}
