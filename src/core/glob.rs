//! A small glob for test and binary names: `*` matches any run of characters
//! (`::` included), `?` exactly one, everything else itself.
//!
//! Written here instead of pulling a glob crate because the core must stay free
//! of other crates' types, and names need nothing more than these two wildcards.

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Glob {
    pattern: Vec<char>,
    source: String,
}

impl Glob {
    pub fn new(pattern: &str) -> Self {
        Self {
            pattern: pattern.chars().collect(),
            source: pattern.to_owned(),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Iterative matcher with single-star backtracking: linear in practice,
    /// never exponential.
    pub fn matches(&self, text: &str) -> bool {
        let text: Vec<char> = text.chars().collect();
        let pat = &self.pattern;
        let (mut p, mut t) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        while t < text.len() {
            if p < pat.len() && (pat[p] == '?' || pat[p] == text[t]) {
                p += 1;
                t += 1;
            } else if p < pat.len() && pat[p] == '*' {
                star = Some((p, t));
                p += 1;
            } else if let Some((sp, st)) = star {
                p = sp + 1;
                t = st + 1;
                star = Some((sp, st + 1));
            } else {
                return false;
            }
        }
        while p < pat.len() && pat[p] == '*' {
            p += 1;
        }
        p == pat.len()
    }
}

#[cfg(test)]
mod tests {
    use super::Glob;

    #[test]
    fn star_spans_path_separators() {
        assert!(Glob::new("orders::*::rounding_*").matches("orders::checkout::rounding_known_bug"));
        assert!(!Glob::new("orders::*::rounding_*").matches("money::tests::adds"));
    }

    #[test]
    fn exact_and_question_mark() {
        assert!(Glob::new("a?c").matches("abc"));
        assert!(!Glob::new("a?c").matches("ac"));
        assert!(Glob::new("abc").matches("abc"));
        assert!(!Glob::new("abc").matches("abcd"));
        assert!(Glob::new("*e2e*").matches("orders::e2e_flow"));
        assert!(Glob::new("*").matches(""));
    }
}
