//! `vigil.toml` as written: every table and key, refused when unknown
//! (`deny_unknown_fields`), with spans so errors name the line.

use super::*;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// "tests" or "binaries".
    pub selection: Option<Spanned<String>>,
    /// "bell" or "off".
    pub notify: Option<Spanned<String>>,
    #[serde(default)]
    pub suites: SuitesConfig,
    #[serde(default)]
    pub xfail: Vec<XfailConfig>,
    #[serde(default)]
    pub watch: WatchConfig,
    #[serde(default)]
    pub budgets: BudgetsConfig,
    #[serde(default)]
    pub hygiene: HygieneConfig,
    #[serde(default)]
    pub coverage: CoverageConfig,
    #[serde(default)]
    pub service: Vec<ServiceConfig>,
    #[serde(default)]
    pub lanes: LanesConfig,
    #[serde(default)]
    pub output: OutputConfig,
    #[serde(default)]
    pub history: HistoryConfig,
    #[serde(default)]
    pub check: CheckRunConfig,
}

/// `[check]`: what `vigil check` does.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckRunConfig {
    /// Runs alone, and runs with copies at once, each (default 20).
    pub runs: Option<usize>,
    /// Copies at once (default: the number of cores).
    pub parallel: Option<usize>,
    /// The network check (default true).
    pub network: Option<bool>,
    /// The clock check (default true).
    pub clock: Option<bool>,
}

/// `[output]`: how much of a test's output vigil holds.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    /// Bytes (`1048576`) or a size (`"1MB"`, `"512KiB"`).
    pub max: Option<Spanned<toml::Value>>,
}

/// `[history]`: how much of the history is kept.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryConfig {
    /// Runs (`1000`) or an age (`"90d"`).
    pub keep: Option<Spanned<toml::Value>>,
}

/// `[lanes]`: kinds of tests run beside nextest's.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LanesConfig {
    /// `cargo test --doc` for the selected packages (default true).
    pub doc: Option<bool>,
}

/// `[[service]]`: a backend some tests need.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    pub name: Spanned<String>,
    pub check: Spanned<CheckConfig>,
    pub needed_by: Spanned<String>,
    pub start: Option<Spanned<CommandConfig>>,
    pub stop: Option<Spanned<CommandConfig>>,
    pub timeout: Option<Spanned<String>>,
    pub interval: Option<Spanned<String>>,
    pub start_timeout: Option<Spanned<String>>,
    #[serde(default)]
    pub allow_remote: bool,
    #[serde(default)]
    pub allow_blocked: bool,
    /// `{ listen = "127.0.0.1:18080", to = "127.0.0.1:8080" }`: vigil
    /// forwards (and records, and can fault) the tests' calls.
    pub proxy: Option<Spanned<ProxyConfig>>,
    /// The faults this service's proxy can inject (`latency:500ms`, …).
    #[serde(default)]
    pub faults: Vec<Spanned<String>>,
    /// Paths the proxy answers from templates while the service is absent.
    #[serde(default)]
    pub stub: Option<Spanned<std::collections::BTreeMap<String, StubConfig>>>,
}

/// `[[service]] proxy`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    pub listen: String,
    pub to: String,
}

/// `stub = { "/health" = { status = 200, body = '…' } }`: one path's answer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StubConfig {
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub body: String,
    pub content_type: Option<String>,
}

/// `"http://…"`, `"tcp://…"`, or `{ command = [..] }`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum CheckConfig {
    Url(String),
    Command { command: Vec<String> },
}

/// `["prog", "arg"]` (run as written) or `"a shell command"` (run with
/// `sh -c`, because that is what the user wrote).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum CommandConfig {
    Argv(Vec<String>),
    Shell(String),
}

/// `"auto"`, `"on"`/`true` or `"off"`/`false`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Switch {
    Bool(bool),
    Word(String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoverageConfig {
    pub mode: Option<Switch>,
    pub branch: Option<Switch>,
    /// Overall minimums, in percent.
    pub lines: Option<f64>,
    pub branches: Option<f64>,
    /// Minimum coverage of the lines changed since `base`, in percent.
    pub patch: Option<f64>,
    /// The git revision patch coverage is measured against ("HEAD").
    pub base: Option<String>,
    /// Record what each test reads at run time (default true).
    pub reads: Option<bool>,
    /// The LCOV file kept current after every coverage run ("off": none).
    pub live_lcov: Option<String>,
    #[serde(default)]
    pub threshold: Vec<ThresholdConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdConfig {
    pub path: Spanned<String>,
    pub lines: Option<f64>,
    pub branches: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HygieneConfig {
    /// Glob over test function names, e.g. "test_*_*_*".
    pub name_pattern: Option<Spanned<String>>,
    #[serde(default)]
    pub require_assertion: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetsConfig {
    pub unit: Option<Spanned<String>>,
    pub integration: Option<Spanned<String>>,
    pub e2e: Option<Spanned<String>>,
    pub test: Option<Spanned<String>>,
    pub enforce: Option<bool>,
    #[serde(default, rename = "override")]
    pub overrides: Vec<OverrideConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverrideConfig {
    pub suite: Option<Spanned<String>>,
    pub test: Option<Spanned<String>>,
    pub limit: Spanned<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchConfig {
    /// Quiet time before a change set is taken, e.g. "150ms".
    pub debounce: Option<Spanned<String>>,
    /// "restart" or "queue".
    pub on_change: Option<Spanned<String>>,
    /// Idle time before the sweep, e.g. "60s", or "off".
    pub sweep_after: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuitesConfig {
    /// Globs over binary ids that make a suite `e2e`.
    pub e2e: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XfailConfig {
    pub test: Spanned<String>,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub strict: bool,
}
