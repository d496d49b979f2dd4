//! Where tests are defined: each test function of a source file, with the
//! name nextest gives it (its module path from the file's place in the
//! package, inline `mod`s, the `fn`), read with a real parser.

use std::path::Path;

/// Which of a package's targets a file belongs to, by where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// Under `src/` (the library, or the default binary's modules).
    Src,
    /// `src/bin/NAME.rs` or `src/bin/NAME/…`.
    Bin(String),
    /// `tests/NAME.rs` or `tests/NAME/…`.
    Test(String),
}

impl Target {
    /// Whether nextest's binary id belongs to this target of `package`.
    pub fn holds(&self, package: &str, binary_id: &str) -> bool {
        match self {
            Target::Src => binary_id == package || binary_id.starts_with(&format!("{package}::bin/")),
            Target::Bin(n) => binary_id == format!("{package}::bin/{n}"),
            Target::Test(n) => binary_id == format!("{package}::{n}"),
        }
    }
}

/// One test function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    /// The test's name as nextest gives it (`tests::empty_order_is_free`).
    pub name: String,
    /// The line of its `fn` (1-based).
    pub line: u32,
    /// Its last line (1-based).
    pub end: u32,
    /// The attributes on it (`test`, `tokio::test`, `ignore`,
    /// `should_panic`, `serial`, `rstest`; `case ×3` for rstest cases).
    pub markers: Vec<String>,
    /// The assertion macros in its body (`assert*!`, `debug_assert*!`,
    /// `panic!`, `unreachable!`), as the hygiene scan counts them.
    pub assertions: usize,
    /// rstest fixtures it takes (its parameters that are not cases).
    pub fixtures: Vec<String>,
}

/// The target and the module path of a file of a package (`rel`: its path
/// from the package's directory); `None`: no test target holds it.
pub fn place(rel: &Path) -> Option<(Target, Vec<String>)> {
    let parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let stem = |s: &str| s.strip_suffix(".rs").map(str::to_owned);
    // The module path of the files under a target's root directory.
    let modules = |rest: &[String]| -> Option<Vec<String>> {
        let (last, dirs) = rest.split_last()?;
        let mut m: Vec<String> = dirs.to_vec();
        let last = stem(last)?;
        if last != "mod" && last != "lib" && last != "main" || !dirs.is_empty() && last != "mod" {
            m.push(last);
        }
        Some(m)
    };
    match parts.first().map(String::as_str) {
        Some("src") if parts.get(1).map(String::as_str) == Some("bin") => {
            let name = parts.get(2)?;
            if parts.len() == 3 {
                Some((Target::Bin(stem(name)?), Vec::new()))
            } else {
                Some((Target::Bin(name.clone()), modules(&parts[3..])?))
            }
        }
        Some("src") => Some((Target::Src, modules(&parts[1..])?)),
        Some("tests") => {
            let name = parts.get(1)?;
            if parts.len() == 2 {
                Some((Target::Test(stem(name)?), Vec::new()))
            } else {
                Some((Target::Test(name.clone()), modules(&parts[2..])?))
            }
        }
        _ => None,
    }
}

/// The test functions of a file's text, named under `modules`; `None`
/// when the text does not parse (mid-edit: keep what was found before).
pub fn tests_in(text: &str, modules: &[String]) -> Option<Vec<Site>> {
    let file = syn::parse_file(text).ok()?;
    let mut out = Vec::new();
    walk(&file.items, &mut modules.to_vec(), &mut out);
    Some(out)
}

fn is_test_attr(attr: &syn::Attribute) -> bool {
    attr.path().segments.last().is_some_and(|s| {
        matches!(
            s.ident.to_string().as_str(),
            "test" | "rstest" | "test_case" | "quickcheck"
        )
    })
}

fn walk(items: &[syn::Item], path: &mut Vec<String>, out: &mut Vec<Site>) {
    for item in items {
        match item {
            syn::Item::Fn(f) if f.attrs.iter().any(is_test_attr) => {
                use syn::spanned::Spanned;
                let mut name = path.clone();
                name.push(f.sig.ident.to_string());
                out.push(Site {
                    name: name.join("::"),
                    line: f.sig.ident.span().start().line as u32,
                    end: f.span().end().line as u32,
                    markers: markers(&f.attrs),
                    assertions: assertions(&f.block),
                    fixtures: fixtures(f),
                });
            }
            syn::Item::Mod(m) => {
                if let Some((_, items)) = &m.content {
                    path.push(m.ident.to_string());
                    walk(items, path, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }
}

fn attr_path(attr: &syn::Attribute) -> String {
    attr.path()
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}

/// The attributes on a test function, `case` counted.
fn markers(attrs: &[syn::Attribute]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let cases = attrs.iter().filter(|a| attr_path(a) == "case").count();
    for a in attrs {
        let p = attr_path(a);
        if p == "doc" || p == "case" || out.contains(&p) {
            continue;
        }
        out.push(p);
    }
    if cases > 0 {
        out.push(format!("case ×{cases}"));
    }
    out
}

/// The assertion macros in a body.
fn assertions(block: &syn::Block) -> usize {
    struct Count(usize);
    impl<'a> syn::visit::Visit<'a> for Count {
        fn visit_macro(&mut self, m: &'a syn::Macro) {
            let name = m.path.segments.last().map(|s| s.ident.to_string()).unwrap_or_default();
            if name.starts_with("assert")
                || name.starts_with("debug_assert")
                || name.starts_with("prop_assert")
                || name == "panic"
                || name == "unreachable"
            {
                self.0 += 1;
            }
            syn::visit::visit_macro(self, m);
        }
    }
    let mut c = Count(0);
    syn::visit::Visit::visit_block(&mut c, block);
    c.0
}

/// An rstest's fixtures: its parameters without `#[case]`, `#[values]`,
/// `#[files]` (those are cases).
fn fixtures(f: &syn::ItemFn) -> Vec<String> {
    if !f.attrs.iter().any(|a| attr_path(a).ends_with("rstest")) {
        return Vec::new();
    }
    f.sig
        .inputs
        .iter()
        .filter_map(|arg| match arg {
            syn::FnArg::Typed(t) => {
                let case = t
                    .attrs
                    .iter()
                    .any(|a| matches!(attr_path(a).as_str(), "case" | "values" | "files"));
                match (&*t.pat, case) {
                    (syn::Pat::Ident(i), false) => Some(i.ident.to_string()),
                    _ => None,
                }
            }
            syn::FnArg::Receiver(_) => None,
        })
        .collect()
}

/// Every test function of a package (its `src/` and `tests/`), with the
/// target that holds it.
pub fn package_tests(dir: &Path) -> Vec<(Target, Site)> {
    let mut out = Vec::new();
    for p in test_sources(dir) {
        let (Ok(rel), Ok(text)) = (p.strip_prefix(dir), std::fs::read_to_string(&p)) else {
            continue;
        };
        let Some((target, modules)) = place(rel) else { continue };
        for site in tests_in(&text, &modules).unwrap_or_default() {
            out.push((target.clone(), site));
        }
    }
    out
}

/// The `.rs` files under a package's `src/` and `tests/`: where its
/// tests can be.
pub fn test_sources(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.join("src"), dir.join("tests")];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_placed_in_their_target_and_module() {
        let p = |s: &str| place(Path::new(s));
        assert_eq!(p("src/lib.rs"), Some((Target::Src, vec![])));
        assert_eq!(p("src/main.rs"), Some((Target::Src, vec![])));
        assert_eq!(p("src/a.rs"), Some((Target::Src, vec!["a".into()])));
        assert_eq!(p("src/a/mod.rs"), Some((Target::Src, vec!["a".into()])));
        assert_eq!(p("src/a/b.rs"), Some((Target::Src, vec!["a".into(), "b".into()])));
        assert_eq!(p("src/a/main.rs"), Some((Target::Src, vec!["a".into(), "main".into()])));
        assert_eq!(p("tests/checkout.rs"), Some((Target::Test("checkout".into()), vec![])));
        assert_eq!(p("tests/it/main.rs"), Some((Target::Test("it".into()), vec![])));
        assert_eq!(
            p("tests/it/store.rs"),
            Some((Target::Test("it".into()), vec!["store".into()]))
        );
        assert_eq!(p("src/bin/tool.rs"), Some((Target::Bin("tool".into()), vec![])));
        assert_eq!(p("build.rs"), None);
        assert!(Target::Test("checkout".into()).holds("orders", "orders::checkout"));
        assert!(Target::Src.holds("orders", "orders") && !Target::Src.holds("orders", "orders::checkout"));
    }

    #[test]
    fn test_functions_are_found_with_their_names_and_lines() {
        let text = "pub fn f() {}\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn one() {\n        assert!(true);\n    }\n\n    #[tokio::test]\n    async fn two() {}\n    fn helper() {}\n}\n";
        let sites = tests_in(text, &["shop".into()]).unwrap();
        assert_eq!(
            sites,
            vec![
                Site {
                    name: "shop::tests::one".into(),
                    line: 6,
                    end: 8,
                    markers: vec!["test".into()],
                    assertions: 1,
                    fixtures: vec![],
                },
                Site {
                    name: "shop::tests::two".into(),
                    line: 11,
                    end: 11,
                    markers: vec!["tokio::test".into()],
                    assertions: 0,
                    fixtures: vec![],
                },
            ]
        );
        assert_eq!(tests_in("fn broken( {", &[]), None);
    }

    #[test]
    fn markers_assertions_and_rstest_fixtures_are_read() {
        let text = "#[rstest]\n#[case(1)]\n#[case(2)]\n#[serial]\nfn doubles(db: Db, #[case] n: u32) {\n    assert_eq!(n * 2, db.double(n));\n    debug_assert!(n > 0);\n    if n > 9 { panic!(\"big\") }\n}\n#[test]\n#[should_panic]\n#[ignore = \"slow\"]\nfn boom() { unreachable!() }\n";
        let sites = tests_in(text, &[]).unwrap();
        assert_eq!(sites[0].markers, ["rstest", "serial", "case ×2"]);
        assert_eq!(
            (sites[0].assertions, sites[0].fixtures.clone()),
            (3, vec!["db".to_owned()])
        );
        assert_eq!(sites[1].markers, ["test", "should_panic", "ignore"]);
        assert_eq!(sites[1].assertions, 1);
    }
}
