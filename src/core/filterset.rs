//! nextest's filterset language, read and evaluated over the catalog: what a
//! service's `needed_by` gates. The run itself still hands the expression to
//! nextest, which has the last word on what runs; this evaluation says
//! which listed tests a service gates (to mark them blocked, to list them in
//! the services view) without another `nextest list`.
//!
//! Supported: `all()`, `none()`, `test()`, `package()`, `deps()`, `rdeps()`,
//! `binary_id()`, `binary()`, `kind()`; `not`/`!`, `and`/`&`, `or`/`|`/`+`,
//! `-` (and not), parentheses; the name matchers `=exact`, `~contains`,
//! `#glob`, `/regex/`, with nextest's defaults (contains for `test()`, equal
//! for `kind()`, glob for the rest). Anything else is refused when the
//! config is read, with what was not understood.

use std::collections::BTreeSet;

use super::catalog::{Suite, Workspace};
use super::glob::Glob;

#[derive(Clone, Debug)]
pub enum Matcher {
    Equal(String),
    Contains(String),
    Glob(Glob),
    Regex(regex::Regex),
}

impl Matcher {
    pub fn matches(&self, text: &str) -> bool {
        match self {
            Matcher::Equal(v) => text == v,
            Matcher::Contains(v) => text.contains(v.as_str()),
            Matcher::Glob(g) => g.matches(text),
            Matcher::Regex(r) => r.is_match(text),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MatchKind {
    Contains,
    Equal,
    Glob,
}

#[derive(Clone, Debug)]
pub enum Filter {
    All,
    None,
    Test(Matcher),
    Package(Matcher),
    Deps(Matcher),
    Rdeps(Matcher),
    BinaryId(Matcher),
    Binary(Matcher),
    Kind(Matcher),
    Not(Box<Filter>),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
}

/// What a test is matched on.
pub struct Subject<'a> {
    pub package: &'a str,
    pub binary_id: &'a str,
    pub binary_name: &'a str,
    pub kind: &'a str,
    pub test: &'a str,
}

impl<'a> Subject<'a> {
    /// Test `test` of `suite`.
    pub fn of(suite: &'a Suite, test: &'a str) -> Self {
        Subject {
            package: &suite.package,
            binary_id: &suite.binary_id,
            binary_name: &suite.binary_name,
            kind: &suite.kind,
            test,
        }
    }
}

impl Filter {
    pub fn parse(text: &str) -> Result<Filter, String> {
        let mut p = Parser {
            chars: text.chars().collect(),
            at: 0,
        };
        let f = p.or()?;
        p.space();
        if p.at < p.chars.len() {
            return Err(format!("unexpected `{}` at column {}", p.rest(), p.at + 1));
        }
        Ok(f)
    }

    /// Whether the test matches, with `ws` for `deps()` and `rdeps()`.
    pub fn matches(&self, ws: &Workspace, s: &Subject) -> bool {
        match self {
            Filter::All => true,
            Filter::None => false,
            Filter::Test(m) => m.matches(s.test),
            Filter::Package(m) => m.matches(s.package),
            Filter::BinaryId(m) => m.matches(s.binary_id),
            Filter::Binary(m) => m.matches(s.binary_name),
            Filter::Kind(m) => m.matches(s.kind),
            Filter::Deps(m) => deps(ws, m).contains(s.package),
            Filter::Rdeps(m) => rdeps(ws, m).contains(s.package),
            Filter::Not(f) => !f.matches(ws, s),
            Filter::And(a, b) => a.matches(ws, s) && b.matches(ws, s),
            Filter::Or(a, b) => a.matches(ws, s) || b.matches(ws, s),
        }
    }
}

/// Members matching `m`, and every member depending on one of them.
fn rdeps(ws: &Workspace, m: &Matcher) -> BTreeSet<String> {
    let mut found: BTreeSet<String> = ws
        .packages
        .iter()
        .filter(|p| m.matches(&p.name))
        .map(|p| p.name.clone())
        .collect();
    if !ws.graph.is_empty() {
        for (i, n) in ws.graph.nodes.iter().enumerate() {
            if m.matches(&n.name) {
                found.extend(ws.graph.dependents(i).into_iter().map(|d| d.member));
            }
        }
        return found;
    }
    // No resolved graph yet: the members' own dependency lists.
    loop {
        let before = found.len();
        for p in &ws.packages {
            if p.deps.iter().any(|d| found.contains(d) || m.matches(d)) {
                found.insert(p.name.clone());
            }
        }
        if found.len() == before {
            return found;
        }
    }
}

/// Packages matching `m` and everything they depend on.
fn deps(ws: &Workspace, m: &Matcher) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    if !ws.graph.is_empty() {
        let mut stack: Vec<usize> = (0..ws.graph.nodes.len())
            .filter(|&i| m.matches(&ws.graph.nodes[i].name))
            .collect();
        while let Some(i) = stack.pop() {
            if found.insert(ws.graph.nodes[i].name.clone()) {
                stack.extend(ws.graph.nodes[i].deps.iter().map(|e| e.to));
            }
        }
        return found;
    }
    let mut stack: Vec<String> = ws
        .packages
        .iter()
        .filter(|p| m.matches(&p.name))
        .map(|p| p.name.clone())
        .collect();
    while let Some(name) = stack.pop() {
        if found.insert(name.clone()) {
            if let Some(p) = ws.packages.iter().find(|p| p.name == name) {
                stack.extend(p.deps.iter().cloned());
            }
        }
    }
    found
}

struct Parser {
    chars: Vec<char>,
    at: usize,
}

impl Parser {
    fn space(&mut self) {
        while self.chars.get(self.at).is_some_and(|c| c.is_whitespace()) {
            self.at += 1;
        }
    }

    fn rest(&self) -> String {
        self.chars[self.at..].iter().take(20).collect()
    }

    /// The keyword `word` (not followed by an identifier character).
    fn word(&mut self, word: &str) -> bool {
        self.space();
        let w: Vec<char> = word.chars().collect();
        let end = self.at + w.len();
        if end <= self.chars.len()
            && self.chars[self.at..end] == w[..]
            && !self.chars.get(end).is_some_and(|c| c.is_alphanumeric() || *c == '_')
        {
            self.at = end;
            return true;
        }
        false
    }

    fn symbol(&mut self, c: char) -> bool {
        self.space();
        if self.chars.get(self.at) == Some(&c) {
            self.at += 1;
            return true;
        }
        false
    }

    fn or(&mut self) -> Result<Filter, String> {
        let mut left = self.and()?;
        while self.symbol('|') || self.symbol('+') || self.word("or") {
            let right = self.and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, String> {
        let mut left = self.unary()?;
        loop {
            if self.symbol('&') || self.word("and") {
                let right = self.unary()?;
                left = Filter::And(Box::new(left), Box::new(right));
            } else if self.symbol('-') {
                let right = self.unary()?;
                left = Filter::And(Box::new(left), Box::new(Filter::Not(Box::new(right))));
            } else {
                return Ok(left);
            }
        }
    }

    fn unary(&mut self) -> Result<Filter, String> {
        if self.symbol('!') || self.word("not") {
            return Ok(Filter::Not(Box::new(self.unary()?)));
        }
        if self.symbol('(') {
            let inner = self.or()?;
            if !self.symbol(')') {
                return Err(format!("expected `)` at column {}", self.at + 1));
            }
            return Ok(inner);
        }
        self.space();
        let start = self.at;
        while self
            .chars
            .get(self.at)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
        {
            self.at += 1;
        }
        let name: String = self.chars[start..self.at].iter().collect();
        if name.is_empty() {
            return Err(if self.at >= self.chars.len() {
                "the expression ends where a predicate was expected".to_owned()
            } else {
                format!(
                    "expected a predicate at column {}, found `{}`",
                    self.at + 1,
                    self.rest()
                )
            });
        }
        if !self.symbol('(') {
            return Err(format!("`{name}` needs parentheses, as in `{name}(…)`"));
        }
        let make: fn(Matcher) -> Filter;
        let default = match name.as_str() {
            "all" | "none" => {
                if !self.symbol(')') {
                    return Err(format!("`{name}()` takes no argument"));
                }
                return Ok(if name == "all" { Filter::All } else { Filter::None });
            }
            "test" => {
                make = Filter::Test;
                MatchKind::Contains
            }
            "package" => {
                make = Filter::Package;
                MatchKind::Glob
            }
            "deps" => {
                make = Filter::Deps;
                MatchKind::Glob
            }
            "rdeps" => {
                make = Filter::Rdeps;
                MatchKind::Glob
            }
            "binary_id" => {
                make = Filter::BinaryId;
                MatchKind::Glob
            }
            "binary" => {
                make = Filter::Binary;
                MatchKind::Glob
            }
            "kind" => {
                make = Filter::Kind;
                MatchKind::Equal
            }
            other => {
                return Err(format!(
                    "`{other}()` is not supported here (use all, none, test, package, deps, rdeps, binary_id, binary, kind)"
                ))
            }
        };
        let m = self.matcher(default)?;
        if !self.symbol(')') {
            return Err(format!("expected `)` after the argument of `{name}(`"));
        }
        Ok(make(m))
    }

    /// A name matcher, up to (not including) its closing parenthesis.
    fn matcher(&mut self, default: MatchKind) -> Result<Matcher, String> {
        self.space();
        if self.chars.get(self.at) == Some(&'/') {
            self.at += 1;
            let mut pattern = String::new();
            loop {
                match self.chars.get(self.at) {
                    None => return Err("a regex `/…/` is not closed".to_owned()),
                    Some('\\') if self.chars.get(self.at + 1) == Some(&'/') => {
                        pattern.push('/');
                        self.at += 2;
                    }
                    Some('/') => {
                        self.at += 1;
                        break;
                    }
                    Some(&c) => {
                        pattern.push(c);
                        self.at += 1;
                    }
                }
            }
            return regex::Regex::new(&pattern)
                .map(Matcher::Regex)
                .map_err(|e| format!("bad regex /{pattern}/: {e}"));
        }
        let mut text = String::new();
        while let Some(&c) = self.chars.get(self.at) {
            if c == ')' {
                break;
            }
            if c == '\\' && self.chars.get(self.at + 1).is_some() {
                text.push(self.chars[self.at + 1]);
                self.at += 2;
                continue;
            }
            text.push(c);
            self.at += 1;
        }
        let text = text.trim();
        let (kind, value) = match text.chars().next() {
            Some('=') => (MatchKind::Equal, &text[1..]),
            Some('~') => (MatchKind::Contains, &text[1..]),
            Some('#') => (MatchKind::Glob, &text[1..]),
            _ => (default, text),
        };
        if value.is_empty() {
            return Err("an empty name matcher".to_owned());
        }
        Ok(match kind {
            MatchKind::Equal => Matcher::Equal(value.to_owned()),
            MatchKind::Contains => Matcher::Contains(value.to_owned()),
            MatchKind::Glob => Matcher::Glob(Glob::new(value)),
        })
    }
}

/// `s` as a regular expression that matches it literally: in nextest's
/// `/…/` matchers (where `/` ends the pattern) and in llvm-cov's filename
/// patterns alike.
pub(crate) fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$/".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject<'a>(binary_id: &'a str, test: &'a str) -> Subject<'a> {
        let (package, rest) = binary_id.split_once("::").unwrap_or((binary_id, ""));
        Subject {
            package,
            binary_id,
            binary_name: if rest.is_empty() { package } else { rest },
            kind: if rest.is_empty() { "lib" } else { "test" },
            test,
        }
    }

    fn hit(expr: &str, binary_id: &str, test: &str) -> bool {
        Filter::parse(expr)
            .unwrap()
            .matches(&Workspace::default(), &subject(binary_id, test))
    }

    #[test]
    fn predicates_take_nextests_default_matchers() {
        assert!(hit("test(bridge)", "app::e2e_orders", "orders::bridge_down"));
        assert!(!hit("test(=bridge)", "app::e2e_orders", "orders::bridge_down"));
        assert!(hit("test(=orders::bridge_down)", "app", "orders::bridge_down"));
        assert!(hit("binary_id(app::e2e_*)", "app::e2e_orders", "x"));
        assert!(!hit("binary_id(app::e2e_*)", "app", "x"));
        assert!(hit("kind(test)", "app::e2e_orders", "x"));
        assert!(!hit("kind(te)", "app::e2e_orders", "x"));
        assert!(hit("test(/^orders::.*_down$/)", "app", "orders::bridge_down"));
        assert!(hit("package(ap*)", "app", "x"));
        assert!(hit("binary(e2e_orders)", "app::e2e_orders", "x"));
    }

    #[test]
    fn operators_bind_as_in_nextest() {
        let e = "binary_id(app::e2e_*) | test(/bridge/)";
        assert!(hit(e, "app::e2e_a", "x"));
        assert!(hit(e, "app", "talks_to_bridge"));
        assert!(!hit(e, "app", "adds"));
        assert!(hit("all() - test(adds)", "app", "subs"));
        assert!(!hit("all() - test(adds)", "app", "adds"));
        assert!(hit("not test(a) or test(b)", "app", "b"));
        assert!(!hit("not (test(a) | test(b))", "app", "b"));
        assert!(hit("package(app) and not kind(lib)", "app::it", "x"));
        assert!(hit("(binary_id(app) & test(=x)) | none()", "app", "x"));
    }

    #[test]
    fn what_is_not_understood_is_said() {
        assert!(Filter::parse("platform(host)").unwrap_err().contains("platform"));
        assert!(Filter::parse("test(a) |").unwrap_err().contains("ends"));
        assert!(Filter::parse("test(a").unwrap_err().contains(")"));
        assert!(Filter::parse("test(/(/)").unwrap_err().contains("regex"));
        assert!(Filter::parse("bridge").unwrap_err().contains("parentheses"));
        assert!(Filter::parse("test()").unwrap_err().contains("empty"));
    }
}
