//! Durations, sizes and budgets as the config writes them: `"2s"`,
//! `"1MB"`, `"90d"`, and the timing budgets with their overrides.

use super::*;

/// `"150ms"` → (`"150"`, `"ms"`).
pub(super) fn number_and_unit(text: &str) -> (&str, &str) {
    let t = text.trim();
    t.split_at(t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len()))
}

pub(super) fn output_max(c: &OutputConfig, text: &str) -> Result<usize, String> {
    let Some(v) = &c.max else {
        return Ok(DEFAULT_OUTPUT_MAX);
    };
    let line = line_of(text, v.span().start);
    match v.get_ref() {
        toml::Value::Integer(n) => parse_size(&n.to_string()),
        toml::Value::String(s) => parse_size(s),
        other => Err(format!("a size like \"1MB\", not {other}")),
    }
    .map_err(|e| format!("`output.max`: {e} (line {line})"))
}

pub(super) fn history_keep(c: &HistoryConfig, text: &str) -> Result<Keep, String> {
    let Some(v) = &c.keep else {
        return Ok(DEFAULT_KEEP);
    };
    let line = line_of(text, v.span().start);
    let runs = |n: i64| {
        u64::try_from(n)
            .ok()
            .filter(|n| *n > 0)
            .map(Keep::Runs)
            .ok_or_else(|| format!("`history.keep`: {n} runs? keep at least 1 (line {line})"))
    };
    match v.get_ref() {
        toml::Value::Integer(n) => runs(*n),
        toml::Value::String(s) if s.trim().ends_with('d') => {
            let days: f64 = s
                .trim()
                .trim_end_matches('d')
                .trim()
                .parse()
                .map_err(|_| format!("`history.keep`: {s:?} is not an age like \"90d\" (line {line})"))?;
            if days.is_finite() && days > 0.0 {
                Ok(Keep::Days(days))
            } else {
                Err(format!("`history.keep`: {s:?} must be more than 0 days (line {line})"))
            }
        }
        toml::Value::String(s) => match s.trim().parse::<i64>() {
            Ok(n) => runs(n),
            Err(_) => Err(format!(
                "`history.keep`: {s:?} is neither a number of runs (1000) nor an age (\"90d\") (line {line})"
            )),
        },
        other => Err(format!(
            "`history.keep`: a number of runs (1000) or an age (\"90d\"), not {other} (line {line})"
        )),
    }
}

/// A budget limit: a duration, or "off".
pub(super) fn limit(
    value: &Option<Spanned<String>>,
    default: Option<Duration>,
    key: &str,
    text: &str,
) -> Result<Option<Duration>, String> {
    match value {
        None => Ok(default),
        Some(v) if v.get_ref().trim() == "off" => Ok(None),
        Some(v) => parse_duration(v.get_ref())
            .map(Some)
            .map_err(|e| format!("`{key}`: {e} (line {})", line_of(text, v.span().start))),
    }
}

pub(super) fn budgets(c: &BudgetsConfig, text: &str) -> Result<Budgets, String> {
    let d = Budgets::default();
    let mut overrides = Vec::new();
    for o in &c.overrides {
        let at = line_of(text, o.limit.span().start);
        let (target, pattern) = match (&o.suite, &o.test) {
            (Some(s), None) => (Target::Suite, non_empty_glob(s, "budgets.override.suite", text)?),
            (None, Some(t)) => (Target::Test, non_empty_glob(t, "budgets.override.test", text)?),
            _ => {
                return Err(format!(
                    "`budgets.override` needs exactly one of `suite` or `test` (line {at})"
                ))
            }
        };
        let limit =
            parse_duration(o.limit.get_ref()).map_err(|e| format!("`budgets.override.limit`: {e} (line {at})"))?;
        overrides.push(Override { target, pattern, limit });
    }
    Ok(Budgets {
        unit: limit(&c.unit, d.unit, "budgets.unit", text)?,
        integration: limit(&c.integration, d.integration, "budgets.integration", text)?,
        e2e: limit(&c.e2e, d.e2e, "budgets.e2e", text)?,
        test: limit(&c.test, d.test, "budgets.test", text)?,
        overrides,
        enforce: c.enforce.unwrap_or(d.enforce),
    })
}

pub(super) fn mode(value: &Option<Switch>, key: &str, text: &str) -> Result<Mode, String> {
    match value {
        None => Ok(Mode::Auto),
        Some(Switch::Bool(true)) => Ok(Mode::On),
        Some(Switch::Bool(false)) => Ok(Mode::Off),
        Some(Switch::Word(w)) => match w.as_str() {
            "auto" => Ok(Mode::Auto),
            "on" | "true" => Ok(Mode::On),
            "off" | "false" => Ok(Mode::Off),
            // (An untagged value loses its position; find the key's line.)
            other => Err(format!(
                "`{key}` must be \"auto\", true or false, not {other:?} (line {})",
                text.lines()
                    .position(|l| l.trim_start().starts_with(key.rsplit('.').next().unwrap_or(key)))
                    .map_or(0, |i| i + 1)
            )),
        },
    }
}
