//! `vigil.toml`: a loose `Config` (every key optional, unknown keys refused)
//! resolved once into immutable `Settings`. Errors name the file, the key
//! and the line. `file` is the file's shape, `limits` its durations,
//! sizes and budgets, `services` its `[[service]]` entries.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;
use toml::Spanned;

use crate::core::budget::{Budgets, Override, Target};
use crate::core::coverage::Threshold;
use crate::core::glob::Glob;
use crate::core::hygiene::HygieneRules;
use crate::core::model::{OnChange, Rules, XfailRule};
use crate::core::services::{Check, ServiceSpec};
use std::time::Duration;

mod file;
mod limits;
mod services;

pub use file::*;
use limits::*;
use services::*;

pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(150);

/// nextest's slow-timeout in its default profile (`.config/nextest.toml`:
/// `slow-timeout = "30s"` or `{ period = "30s", terminate-after = 2, … }`),
/// when one is set, and the time after which nextest stops a test (the
/// period × `terminate-after`, when that is set too).
fn nextest_slow_timeout(root: &Path) -> (Option<Duration>, Option<Duration>) {
    match std::fs::read_to_string(root.join(".config/nextest.toml")) {
        Ok(text) => slow_timeouts(&text),
        Err(_) => (None, None),
    }
}

/// The slow-timeout and the time to stop a test after, from the text of
/// `.config/nextest.toml`.
fn slow_timeouts(text: &str) -> (Option<Duration>, Option<Duration>) {
    let Ok(value) = toml::from_str::<toml::Value>(text) else {
        return (None, None);
    };
    let Some(slow) = value
        .get("profile")
        .and_then(|p| p.get("default"))
        .and_then(|d| d.get("slow-timeout"))
    else {
        return (None, None);
    };
    let period = match slow {
        toml::Value::String(s) => Some(s.as_str()),
        t => t.get("period").and_then(|p| p.as_str()),
    }
    .and_then(humanish);
    let after = slow
        .get("terminate-after")
        .and_then(|n| n.as_integer())
        .and_then(|n| u32::try_from(n).ok())
        .filter(|&n| n > 0);
    (period, period.zip(after).map(|(p, n)| p * n))
}

/// nextest's durations: `60s`, `1m`, `500ms`, `1m 30s`.
fn humanish(text: &str) -> Option<Duration> {
    text.split_whitespace()
        .map(parse_duration)
        .try_fold(Duration::ZERO, |acc, d| d.ok().map(|d| acc + d))
}

/// `150ms`, `2s`, `1.5s`, `5m`, `1h`: a number and a unit.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = number_and_unit(text);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like \"150ms\", \"30s\" or \"5m\""))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("{text:?} needs a unit: ms, s, m or h")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("{text:?} is out of range"))
}

pub(crate) const FILE_NAME: &str = "vigil.toml";

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("failed to read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid config {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// How much history is kept: the last N runs, or the runs of the last
/// days.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Keep {
    Runs(u64),
    Days(f64),
}

/// The default `output.max`: 1 MB of a test's output is held (its head and
/// its tail); the whole of it goes to a file.
pub(crate) const DEFAULT_OUTPUT_MAX: usize = 1 << 20;

/// The default `history.keep`: the last 1,000 runs.
pub(crate) const DEFAULT_KEEP: Keep = Keep::Runs(1000);

/// `"1MB"`, `"512KiB"`, `"64k"` or a plain number of bytes.
pub(crate) fn parse_size(text: &str) -> Result<usize, String> {
    let (number, unit) = number_and_unit(text);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size like \"1MB\" or \"512KiB\""))?;
    let scale = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => return Err(format!("{text:?}: the unit is B, KB, MB or GB")),
    };
    let bytes = value * scale;
    if !(4096.0..=(1u64 << 40) as f64).contains(&bytes) {
        return Err(format!("{text:?} is out of range (at least 4KB)"));
    }
    Ok(bytes as usize)
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    #[default]
    Auto,
    On,
    Off,
}

/// Everything vigil needs from the config, validated.
#[derive(Clone, Debug)]
pub struct Settings {
    pub rules: Rules,
    /// Coverage: auto (on when usable LLVM tools are found), on, off.
    pub coverage: Mode,
    /// Branch coverage: auto (when the toolchain is nightly), on, off.
    pub branch: Mode,
    /// Quiet time the watcher waits for before taking a change set.
    pub debounce: Duration,
    /// The git revision patch coverage is measured against (`coverage.base`,
    /// or `vigil run --since REV`).
    pub coverage_base: Option<String>,
    /// `--config FILE`, kept so a reload reads the same file.
    pub explicit: Option<PathBuf>,
    /// The file the settings came from (`None`: defaults).
    pub source: Option<PathBuf>,
    /// How much of a test's output is held (`output.max`).
    pub output_max: usize,
    /// How much history is kept (`history.keep`).
    pub keep: Keep,
    /// Record what each test reads at run time (`coverage.reads`).
    pub trace_reads: bool,
    /// The LCOV file kept current after every coverage run
    /// (`coverage.live_lcov`), for editors' coverage gutters.
    pub live_lcov: LiveLcov,
    /// `[check]`: what `vigil check` does (`None`: its default).
    pub check_runs: Option<usize>,
    pub check_parallel: Option<usize>,
    pub check_network: bool,
    pub check_clock: bool,
}

/// Where the live LCOV file goes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum LiveLcov {
    /// `lcov.info` in the state directory (`target/vigil/lcov.info`).
    #[default]
    StateDir,
    /// `live_lcov = "off"`: none is written.
    Off,
    /// A path of the user's (relative: to the workspace root).
    At(PathBuf),
}

impl LiveLcov {
    /// The file to write for a workspace (`None`: off).
    pub fn path(&self, root: &std::path::Path, target_dir: &std::path::Path) -> Option<PathBuf> {
        match self {
            LiveLcov::StateDir => Some(crate::adapters::state_dir(target_dir).join("lcov.info")),
            LiveLcov::Off => None,
            LiveLcov::At(p) => Some(root.join(p)),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            rules: Rules::default(),
            coverage: Mode::Auto,
            branch: Mode::Auto,
            debounce: DEFAULT_DEBOUNCE,
            coverage_base: None,
            explicit: None,
            source: None,
            output_max: DEFAULT_OUTPUT_MAX,
            keep: DEFAULT_KEEP,
            trace_reads: true,
            live_lcov: LiveLcov::StateDir,
            check_runs: None,
            check_parallel: None,
            check_network: true,
            check_clock: true,
        }
    }
}

impl Settings {
    /// `explicit` (from `--config`) must exist; otherwise `vigil.toml` in the
    /// workspace root is read when present.
    pub fn load(explicit: Option<&Path>, workspace_root: &Path) -> Result<Self, ConfigError> {
        let mut settings = Self::load_file(explicit, workspace_root)?;
        (settings.rules.slow_timeout, settings.rules.terminate_after) = nextest_slow_timeout(workspace_root);
        Ok(settings)
    }

    /// `--fault NAME=KIND` (each), `--calls`: faults in effect from the
    /// start, checked against the services' proxies and the limits a fault
    /// may hold calls for (the tightest test budget, else nextest's
    /// slow-timeout).
    pub fn apply_faults(&mut self, faults: &[String], calls: bool) -> Result<(), String> {
        self.rules.emit_calls = calls;
        for f in faults {
            let (name, kind) = f
                .split_once('=')
                .ok_or_else(|| format!("--fault {f:?}: say which service, like `--fault bridge=status:503`"))?;
            let service = self
                .rules
                .services
                .iter()
                .find(|s| s.name == name)
                .ok_or_else(|| format!("--fault {f:?}: no `[[service]]` is called {name:?}"))?;
            if service.proxy.is_none() {
                return Err(format!(
                    "--fault {f:?}: service `{name}` has no `proxy`, so vigil cannot inject faults into its calls"
                ));
            }
            let fault = crate::core::faults::Fault::parse(kind).map_err(|m| format!("--fault {f:?}: {m}"))?;
            if let Some(why) = self.fault_refusal(name, &fault) {
                return Err(why);
            }
            self.rules.faults.retain(|(n, _)| n != name);
            self.rules.faults.push((name.to_owned(), fault));
        }
        Ok(())
    }

    /// Why `fault` may not be injected into `service`'s calls: it holds
    /// them longer than the tightest test budget, else nextest's
    /// slow-timeout.
    pub fn fault_refusal(&self, service: &str, fault: &crate::core::faults::Fault) -> Option<String> {
        let b = &self.rules.budgets;
        let budget = b
            .overrides
            .iter()
            .filter(|o| o.target == Target::Test)
            .map(|o| o.limit)
            .chain(b.test)
            .min();
        let (limit, from) = match budget {
            Some(l) => (l, "the tests' time budget"),
            None => (
                self.rules.slow_timeout.unwrap_or(Duration::from_secs(60)),
                "nextest's slow-timeout",
            ),
        };
        fault.refusal(service, limit, from)
    }

    fn load_file(explicit: Option<&Path>, workspace_root: &Path) -> Result<Self, ConfigError> {
        let path = match explicit {
            Some(p) => p.to_owned(),
            None => {
                let p = workspace_root.join(FILE_NAME);
                if !p.exists() {
                    return Ok(Settings::default());
                }
                p
            }
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        let mut settings = Self::parse(&text).map_err(|message| ConfigError::Invalid {
            path: path.clone(),
            message,
        })?;
        settings.source = Some(path);
        settings.explicit = explicit.map(Path::to_path_buf);
        Ok(settings)
    }

    /// Parses and validates config text; the error says key and line.
    pub fn parse(text: &str) -> Result<Self, String> {
        let config: Config = toml::from_str(text).map_err(|e| describe_toml_error(text, &e))?;
        Self::from_config(config, text)
    }

    fn from_config(config: Config, text: &str) -> Result<Self, String> {
        let mut rules = Rules::default();
        if let Some(e2e) = config.suites.e2e {
            rules.e2e_patterns = e2e
                .iter()
                .map(|p| non_empty_glob(p, "suites.e2e", text))
                .collect::<Result<_, _>>()?;
        }
        rules.xfail = config
            .xfail
            .iter()
            .map(|x| {
                Ok(XfailRule {
                    pattern: non_empty_glob(&x.test, "xfail.test", text)?,
                    reason: x.reason.clone(),
                    strict: x.strict,
                })
            })
            .collect::<Result<_, String>>()?;
        if let Some(mode) = &config.watch.on_change {
            rules.on_change = match mode.get_ref().as_str() {
                "restart" => OnChange::Restart,
                "queue" => OnChange::Queue,
                other => {
                    return Err(format!(
                        "`watch.on_change` must be \"restart\" or \"queue\", not {other:?} (line {})",
                        line_of(text, mode.span().start)
                    ))
                }
            };
        }
        if let Some(mode) = &config.selection {
            rules.selection = match mode.get_ref().as_str() {
                "tests" => crate::core::rules::SelectionMode::Tests,
                "binaries" => crate::core::rules::SelectionMode::Binaries,
                other => {
                    return Err(format!(
                        "`selection` must be \"tests\" or \"binaries\", not {other:?} (line {})",
                        line_of(text, mode.span().start)
                    ))
                }
            };
        }
        rules.budgets = budgets(&config.budgets, text)?;
        rules.hygiene = HygieneRules {
            name_pattern: match &config.hygiene.name_pattern {
                Some(p) => Some(non_empty_glob(p, "hygiene.name_pattern", text)?),
                None => None,
            },
            require_assertion: config.hygiene.require_assertion,
        };
        if let Some(s) = &config.watch.sweep_after {
            rules.sweep_after = match s.get_ref().as_str() {
                "off" => None,
                other => Some(parse_duration(other).map_err(|e| {
                    format!(
                        "`watch.sweep_after`: {e}, or \"off\" (line {})",
                        line_of(text, s.span().start)
                    )
                })?),
            };
        }
        let debounce = match &config.watch.debounce {
            None => DEFAULT_DEBOUNCE,
            Some(d) => parse_duration(d.get_ref())
                .map_err(|e| format!("`watch.debounce`: {e} (line {})", line_of(text, d.span().start)))?,
        };
        let c = &config.coverage;
        rules.patch_coverage = c.patch;
        for (v, key) in [
            (c.lines, "coverage.lines"),
            (c.branches, "coverage.branches"),
            (c.patch, "coverage.patch"),
        ] {
            if v.is_some_and(|v| !(0.0..=100.0).contains(&v)) {
                return Err(format!("`{key}` is a percentage, from 0 to 100"));
            }
        }
        if c.lines.is_some() || c.branches.is_some() {
            rules.coverage.push(Threshold {
                path: None,
                lines: c.lines,
                branches: c.branches,
            });
        }
        for t in &c.threshold {
            rules.coverage.push(Threshold {
                path: Some(non_empty_glob(&t.path, "coverage.threshold.path", text)?),
                lines: t.lines,
                branches: t.branches,
            });
        }
        rules.services = services(&config.service, text)?;
        rules.doc_lane = config.lanes.doc.unwrap_or(true);
        if let Some(n) = &config.notify {
            rules.bell = match n.get_ref().as_str() {
                "bell" => true,
                "off" => false,
                other => {
                    return Err(format!(
                        "`notify` must be \"bell\" or \"off\", not {other:?} (line {})",
                        line_of(text, n.span().start)
                    ))
                }
            };
        }
        Ok(Settings {
            rules,
            coverage: mode(&c.mode, "coverage.mode", text)?,
            branch: mode(&c.branch, "coverage.branch", text)?,
            debounce,
            coverage_base: c.base.clone(),
            explicit: None,
            source: None,
            output_max: output_max(&config.output, text)?,
            keep: history_keep(&config.history, text)?,
            trace_reads: c.reads.unwrap_or(true),
            live_lcov: match c.live_lcov.as_deref() {
                None => LiveLcov::StateDir,
                Some("off") => LiveLcov::Off,
                Some("") => return Err("`coverage.live_lcov` must name a file, or be \"off\"".into()),
                Some(p) => LiveLcov::At(PathBuf::from(p)),
            },
            check_runs: match config.check.runs {
                Some(0) => return Err("`check.runs` must be at least 1".into()),
                r => r,
            },
            check_parallel: match config.check.parallel {
                Some(0) => return Err("`check.parallel` must be at least 1".into()),
                p => p,
            },
            check_network: config.check.network.unwrap_or(true),
            check_clock: config.check.clock.unwrap_or(true),
        })
    }
}

fn non_empty_glob(value: &Spanned<String>, key: &str, text: &str) -> Result<Glob, String> {
    if value.get_ref().trim().is_empty() {
        return Err(format!(
            "`{key}` must not be empty (line {})",
            line_of(text, value.span().start)
        ));
    }
    Ok(Glob::new(value.get_ref()))
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

fn describe_toml_error(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim_end();
    match e.span() {
        Some(span) => format!("line {}: {message}", line_of(text, span.start)),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nextest_slow_timeout_and_terminate_after_are_read_from_its_default_profile() {
        let s = |t: &str| slow_timeouts(t);
        assert_eq!(
            s("[profile.default]\nslow-timeout = \"30s\"\n"),
            (Some(Duration::from_secs(30)), None)
        );
        assert_eq!(
            s("[profile.default]\nslow-timeout = { period = \"1m 30s\", terminate-after = 2 }\n"),
            (Some(Duration::from_secs(90)), Some(Duration::from_secs(180)))
        );
        assert_eq!(
            s("[profile.ci]\nslow-timeout = { period = \"1s\", terminate-after = 2 }\n"),
            (None, None),
            "another profile is not the default"
        );
        assert_eq!(
            s("[profile.default]\nslow-timeout = { period = \"5s\", terminate-after = 0 }\n"),
            (Some(Duration::from_secs(5)), None)
        );
        assert_eq!(s("not toml ["), (None, None));
    }

    #[test]
    fn output_max_and_history_keep_parse_and_bad_values_name_the_line() {
        let d = Settings::parse("").unwrap();
        assert_eq!((d.output_max, d.keep), (DEFAULT_OUTPUT_MAX, Keep::Runs(1000)));
        let s = Settings::parse("[output]\nmax = \"512KiB\"\n[history]\nkeep = \"90d\"\n").unwrap();
        assert_eq!((s.output_max, s.keep), (512 * 1024, Keep::Days(90.0)));
        let s = Settings::parse("[output]\nmax = 65536\n[history]\nkeep = 50\n").unwrap();
        assert_eq!((s.output_max, s.keep), (65536, Keep::Runs(50)));
        assert_eq!(
            Settings::parse("[history]\nkeep = \"200\"\n").unwrap().keep,
            Keep::Runs(200)
        );
        for (text, key, line) in [
            ("[output]\nmax = \"lots\"\n", "output.max", 2),
            ("[output]\n\nmax = \"2TB\"\n", "output.max", 3),
            ("[output]\nmax = 12\n", "output.max", 2),
            ("[history]\nkeep = 0\n", "history.keep", 2),
            ("[history]\nkeep = \"-3d\"\n", "history.keep", 2),
            ("[history]\nkeep = \"forever\"\n", "history.keep", 2),
            ("[history]\nkeep = true\n", "history.keep", 2),
        ] {
            let err = Settings::parse(text).unwrap_err();
            assert!(
                err.contains(key) && err.contains(&format!("line {line}")),
                "{text:?}: {err}"
            );
        }
    }

    #[test]
    fn unknown_key_is_an_error_naming_key_and_line() {
        let err = Settings::parse("[suites]\ne2e = [\"*e2e*\"]\nflavour = 1\n").unwrap_err();
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("flavour"), "{err}");
    }

    #[test]
    fn bad_value_type_is_an_error_naming_line() {
        let err = Settings::parse("[[xfail]]\ntest = 5\n").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn empty_xfail_pattern_is_refused() {
        let err = Settings::parse("\n[[xfail]]\ntest = \"  \"\n").unwrap_err();
        assert!(err.contains("xfail.test") && err.contains("line 3"), "{err}");
    }

    #[test]
    fn watch_keys_parse_and_bad_values_name_the_line() {
        let s = Settings::parse("[watch]\ndebounce = \"300ms\"\non_change = \"queue\"\n").unwrap();
        assert_eq!(s.debounce, Duration::from_millis(300));
        assert_eq!(s.rules.on_change, OnChange::Queue);
        let err = Settings::parse("[watch]\non_change = \"sometimes\"\n").unwrap_err();
        assert!(err.contains("watch.on_change") && err.contains("line 2"), "{err}");
        let err = Settings::parse("[watch]\n\ndebounce = \"fast\"\n").unwrap_err();
        assert!(err.contains("watch.debounce") && err.contains("line 3"), "{err}");
    }

    #[test]
    fn budgets_default_to_the_team_rules_and_take_overrides() {
        let d = Settings::parse("").unwrap().rules.budgets;
        assert_eq!(d.unit, Some(Duration::from_secs(30)));
        assert_eq!(d.integration, Some(Duration::from_secs(300)));
        assert_eq!(d.test, Some(Duration::from_secs(10)));
        assert!(!d.enforce);
        let s = Settings::parse(
            "[budgets]\nunit = \"off\"\nenforce = true\n[[budgets.override]]\ntest = \"money::tests::slow_*\"\nlimit = \"500ms\"\n",
        )
        .unwrap()
        .rules
        .budgets;
        assert_eq!(s.unit, None);
        assert!(s.enforce);
        assert_eq!(
            s.test_limit("money", "tests::slow_rounding"),
            Some(Duration::from_millis(500))
        );
        assert_eq!(s.test_limit("money", "tests::adds"), Some(Duration::from_secs(10)));
        let err = Settings::parse("[budgets]\n[[budgets.override]]\nlimit = \"1s\"\n").unwrap_err();
        assert!(err.contains("exactly one of") && err.contains("line 3"), "{err}");
        let err = Settings::parse("[budgets]\ntest = \"ten\"\n").unwrap_err();
        assert!(err.contains("budgets.test") && err.contains("line 2"), "{err}");
    }

    #[test]
    fn coverage_keys_parse_and_bad_modes_name_the_line() {
        let s = Settings::parse("[coverage]\nmode = \"off\"\nbranch = true\nlines = 70\n").unwrap();
        assert_eq!((s.coverage, s.branch), (Mode::Off, Mode::On));
        assert_eq!(s.rules.coverage.len(), 1);
        let err = Settings::parse("[coverage]\n\nmode = \"sometimes\"\n").unwrap_err();
        assert!(err.contains("coverage.mode") && err.contains("line 3"), "{err}");
        let err = Settings::parse("[coverage]\nlines = 170\n").unwrap_err();
        assert!(err.contains("percentage"), "{err}");
    }

    #[test]
    fn durations_take_units() {
        assert_eq!(parse_duration("150ms"), Ok(Duration::from_millis(150)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn empty_config_gives_defaults() {
        let s = Settings::parse("").unwrap();
        assert_eq!(s.rules.e2e_patterns, vec![Glob::new("*e2e*")]);
        assert!(s.rules.xfail.is_empty());
    }

    #[test]
    fn services_parse_with_their_defaults() {
        let s = Settings::parse(
            "[[service]]\nname = \"bridge\"\ncheck = \"http://127.0.0.1:8080/health\"\n\
             needed_by = \"binary_id(app::e2e_*) | test(/bridge/)\"\nstart = [\"docker\", \"compose\", \"up\"]\n\
             stop = \"docker compose stop bridge\"\ninterval = \"1s\"\n\n\
             [[service]]\nname = \"db\"\ncheck = { command = [\"pg_isready\"] }\nneeded_by = \"all()\"\n",
        )
        .unwrap();
        let [bridge, db] = &s.rules.services[..] else {
            panic!("two services")
        };
        assert_eq!(
            bridge.check,
            Check::Http {
                url: "http://127.0.0.1:8080/health".into(),
                host: "127.0.0.1".into(),
                port: 8080,
                path: "/health".into()
            }
        );
        assert_eq!(
            bridge.start.as_deref(),
            Some(&["docker".to_owned(), "compose".into(), "up".into()][..])
        );
        assert_eq!(
            bridge.stop.as_deref(),
            Some(&["sh".to_owned(), "-c".into(), "docker compose stop bridge".into()][..]),
            "a string is the shell command the user wrote"
        );
        assert_eq!(
            (bridge.interval, bridge.timeout, bridge.start_timeout),
            (Duration::from_secs(1), Duration::from_secs(2), Duration::from_secs(30))
        );
        assert_eq!(db.check, Check::Command(vec!["pg_isready".into()]));
        assert!(!db.allow_blocked && db.start.is_none());
    }

    #[test]
    fn proxies_parse_loopback_only_with_their_faults() {
        let entry = |body: &str| {
            Settings::parse(&format!(
                "[[service]]\nname = \"bridge\"\ncheck = \"http://127.0.0.1:8080/health\"\nneeded_by = \"all()\"\n{body}"
            ))
        };
        let s = entry("proxy = { listen = \"127.0.0.1:18080\", to = \"127.0.0.1:8080\" }\nfaults = [\"latency:500ms,jitter:50ms\", \"status:503,path:/v2/*\"]\n").unwrap();
        let bridge = &s.rules.services[0];
        let p = bridge.proxy.as_ref().unwrap();
        assert_eq!(
            (p.listen.as_str(), p.to.as_str(), p.http),
            ("127.0.0.1:18080", "127.0.0.1:8080", true)
        );
        let labels: Vec<String> = bridge.faults.iter().map(|f| f.label()).collect();
        assert_eq!(labels, ["latency:500ms~50ms", "status:503 /v2/*"]);
        let remote = entry("proxy = { listen = \"127.0.0.1:18080\", to = \"10.1.2.3:8080\" }\n")
            .unwrap_err()
            .to_string();
        assert!(
            remote.contains("`service.proxy.to` of \"bridge\" is 10.1.2.3:8080, which is not a loopback address"),
            "{remote}"
        );
        assert!(remote.contains("line 5"), "{remote}");
        let listen = entry("proxy = { listen = \"0.0.0.0:18080\", to = \"127.0.0.1:8080\" }\n")
            .unwrap_err()
            .to_string();
        assert!(listen.contains("`service.proxy.listen`"), "{listen}");
        // allow_remote lets an entry say it means it; nothing connects anywhere here.
        let allowed = entry("allow_remote = true\nproxy = { listen = \"127.0.0.1:18080\", to = \"10.1.2.3:8080\" }\n");
        assert!(allowed.is_ok());
        let bad = entry("proxy = { listen = \"127.0.0.1:18080\", to = \"127.0.0.1:8080\" }\nfaults = [\"slow\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            bad.contains("`service.faults` of \"bridge\": \"slow\" is not a fault"),
            "{bad}"
        );
        let no_proxy = entry("faults = [\"reset\"]\n").unwrap_err().to_string();
        assert!(no_proxy.contains("need a `proxy`"), "{no_proxy}");
        let tcp = Settings::parse("[[service]]\nname = \"db\"\ncheck = \"tcp://127.0.0.1:5432\"\nneeded_by = \"all()\"\nproxy = { listen = \"127.0.0.1:15432\", to = \"127.0.0.1:5432\" }\n").unwrap();
        assert!(
            !tcp.rules.services[0].proxy.as_ref().unwrap().http,
            "a TCP check is forwarded as TCP"
        );
    }

    #[test]
    fn bad_service_entries_name_key_and_line() {
        let entry = |body: &str| Settings::parse(&format!("\n[[service]]\nname = \"db\"\n{body}")).unwrap_err();
        let err = entry("check = \"tcp://10.0.0.5:5432\"\nneeded_by = \"all()\"\n");
        assert!(
            err.contains("not a loopback address") && err.contains("allow_remote") && err.contains("line 4"),
            "{err}"
        );
        assert!(Settings::parse("[[service]]\nname = \"db\"\ncheck = \"tcp://db.internal:5432\"\nneeded_by = \"all()\"\nallow_remote = true\n").is_ok());
        assert!(
            Settings::parse("[[service]]\nname = \"db\"\ncheck = \"tcp://[::1]:5432\"\nneeded_by = \"all()\"\n")
                .is_ok()
        );
        let err = entry("check = \"https://127.0.0.1/health\"\nneeded_by = \"all()\"\n");
        assert!(err.contains("https") && err.contains("line 4"), "{err}");
        let err = entry("check = \"tcp://127.0.0.1:1\"\nneeded_by = \"platform(host)\"\n");
        assert!(err.contains("service.needed_by") && err.contains("line 5"), "{err}");
        let err = entry("check = \"tcp://127.0.0.1:1\"\nneeded_by = \"all()\"\ntimeout = \"soon\"\n");
        assert!(err.contains("service.timeout") && err.contains("line 6"), "{err}");
        let err = entry("check = \"tcp://127.0.0.1:1\"\nneeded_by = \"all()\"\nflavour = 1\n");
        assert!(err.contains("flavour") && err.contains("line 6"), "{err}");
        let err = entry("check = \"tcp://127.0.0.1\"\nneeded_by = \"all()\"\n");
        assert!(err.contains("host and a port"), "{err}");
        let err = entry("check = \"tcp://127.0.0.1:1\"\nneeded_by = \"all()\"\nstart = []\n");
        assert!(err.contains("service.start") && err.contains("line 6"), "{err}");
        let err = Settings::parse(
            "[[service]]\nname = \"a\"\ncheck = \"tcp://127.0.0.1:1\"\nneeded_by = \"all()\"\n\
             [[service]]\nname = \"a\"\ncheck = \"tcp://127.0.0.1:1\"\nneeded_by = \"all()\"\n",
        )
        .unwrap_err();
        assert!(err.contains("second service") && err.contains("line 6"), "{err}");
    }
}
