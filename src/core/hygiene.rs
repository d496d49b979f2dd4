//! Test hygiene, from a suite's own conventions (off by default): test
//! names must match a pattern, and a test must assert something (an
//! `assert*!`, a `panic!`, `#[should_panic]`, or a `Result` return).
//! Pure: it reads source text it is given.

use serde::Serialize;

use super::glob::Glob;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct HygieneRules {
    /// Glob over the test function's name, e.g. `test_*_*`.
    pub name_pattern: Option<Glob>,
    pub require_assertion: bool,
}

impl HygieneRules {
    pub(crate) fn enabled(&self) -> bool {
        self.name_pattern.is_some() || self.require_assertion
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct HygieneWarning {
    pub file: String,
    pub line: usize,
    pub test: String,
    pub problem: String,
}

/// The warnings for one source file (`file` as it should be shown).
pub fn check(rules: &HygieneRules, file: &str, text: &str) -> Vec<HygieneWarning> {
    let mut out = Vec::new();
    if !rules.enabled() {
        return out;
    }
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let trimmed = lines[i].trim_start();
        if !is_test_attr(trimmed) {
            i += 1;
            continue;
        }
        // Attributes up to the `fn` line.
        let mut should_panic = false;
        let mut j = i;
        while j < lines.len() && !has_fn(lines[j]) {
            should_panic |= lines[j].contains("should_panic");
            j += 1;
        }
        let Some(fn_line) = lines.get(j) else { break };
        let Some(name) = fn_name(fn_line) else {
            i = j + 1;
            continue;
        };
        let (body, end) = body_of(&lines, j);
        let signature: String = lines[j..=end.min(lines.len() - 1)].join("\n");
        let signature = signature.split('{').next().unwrap_or("");
        if let Some(pattern) = &rules.name_pattern {
            if !pattern.matches(&name) {
                out.push(HygieneWarning {
                    file: file.to_owned(),
                    line: j + 1,
                    test: name.clone(),
                    problem: format!("name does not match `{}`", pattern.as_str()),
                });
            }
        }
        if rules.require_assertion {
            let asserts = body.contains("assert") || body.contains("panic!") || body.contains("unreachable!");
            let returns_result = signature.contains("->") && signature.contains("Result");
            if !(asserts || should_panic || returns_result) {
                out.push(HygieneWarning {
                    file: file.to_owned(),
                    line: j + 1,
                    test: name,
                    problem: "asserts nothing (no assert*!, panic!, #[should_panic] or Result return)".to_owned(),
                });
            }
        }
        i = end + 1;
    }
    out
}

fn is_test_attr(line: &str) -> bool {
    line.starts_with("#[test]") || line.starts_with("#[tokio::test") || line.starts_with("#[rstest")
}

fn has_fn(line: &str) -> bool {
    let t = line.trim_start();
    !t.starts_with("#") && (t.contains("fn ") && !t.starts_with("//"))
}

fn fn_name(line: &str) -> Option<String> {
    let after = &line[line.find("fn ")? + 3..];
    let name: String = after.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
    (!name.is_empty()).then_some(name)
}

/// The text between the function's braces, and the line where it ends.
fn body_of(lines: &[&str], start: usize) -> (String, usize) {
    let mut depth = 0i32;
    let mut seen_open = false;
    let mut body = String::new();
    for (k, line) in lines.iter().enumerate().skip(start) {
        for c in line.chars() {
            match c {
                '{' => {
                    depth += 1;
                    seen_open = true;
                }
                '}' => depth -= 1,
                _ => {}
            }
        }
        body.push_str(line);
        body.push('\n');
        if seen_open && depth <= 0 {
            return (body, k);
        }
    }
    (body, lines.len().saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = r#"
#[test]
fn test_cart_adds_item_ok() {
    assert_eq!(1, 1);
}

#[test]
fn does_nothing() {
    let _ = 2 + 2;
}

#[test]
#[should_panic]
fn test_cart_rejects_negative_panics() {
    boom();
}

#[test]
fn test_io_reads_config_ok() -> Result<(), String> {
    Ok(())
}
"#;

    #[test]
    fn flags_names_and_tests_without_assertions_with_lines() {
        let rules = HygieneRules {
            name_pattern: Some(Glob::new("test_*_*_*")),
            require_assertion: true,
        };
        let w = check(&rules, "src/lib.rs", SRC);
        let got: Vec<(usize, &str, bool)> = w
            .iter()
            .map(|w| (w.line, w.test.as_str(), w.problem.starts_with("name")))
            .collect();
        assert_eq!(got, vec![(8, "does_nothing", true), (8, "does_nothing", false)]);
    }

    #[test]
    fn off_by_default() {
        assert!(check(&HygieneRules::default(), "src/lib.rs", SRC).is_empty());
    }
}
