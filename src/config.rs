//! `vigil.toml`: a loose `Config` (every key optional, unknown keys refused)
//! resolved once into immutable `Settings`. Errors name the file, the key
//! and the line.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;
use toml::Spanned;

use crate::core::glob::Glob;
use crate::core::model::{Rules, XfailRule};

pub const FILE_NAME: &str = "vigil.toml";

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("failed to read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid config {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub suites: SuitesConfig,
    #[serde(default)]
    pub xfail: Vec<XfailConfig>,
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

/// Everything vigil needs from the config, validated.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    pub rules: Rules,
    /// The file the settings came from (`None`: defaults).
    pub source: Option<PathBuf>,
}

impl Settings {
    /// `explicit` (from `--config`) must exist; otherwise `vigil.toml` in the
    /// workspace root is read when present.
    pub fn load(explicit: Option<&Path>, workspace_root: &Path) -> Result<Self, ConfigError> {
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
        Ok(Settings { rules, source: None })
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
    fn empty_config_gives_defaults() {
        let s = Settings::parse("").unwrap();
        assert_eq!(s.rules.e2e_patterns, vec![Glob::new("*e2e*")]);
        assert!(s.rules.xfail.is_empty());
    }
}
