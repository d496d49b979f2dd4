//! Every item of a file with its lines and what an edit inside it means: the
//! innermost container of a hunk, the item a doc comment documents, and
//! the reason a change runs the static tier ("`static TABLE` (lines 40–46)
//! changed: evaluated at compile time").

use super::*;

/// An item of the file, for naming what a hunk changed.
#[derive(Debug)]
pub(super) struct Item {
    /// `static TABLE`, `struct Price`, `fn price`.
    pub(super) name: String,
    /// Why a change in it is compiled in, not run.
    pub(super) why: &'static str,
    /// rustdoc's path of the item (`Money::add`).
    pub(super) path: String,
    pub(super) extent: Extent,
    /// Whether a derive or attribute macro on it or its container can read
    /// its doc comments.
    pub(super) docs_read: bool,
    pub(super) depth: usize,
}

impl Item {
    pub(super) fn describe(&self) -> String {
        format!(
            "`{}` ({}) changed: {}",
            self.name,
            shown_lines(self.extent.start.line, self.extent.end.line),
            self.why
        )
    }
}

pub(super) fn shown_lines(a: u32, b: u32) -> String {
    if a >= b {
        format!("line {a}")
    } else {
        format!("lines {a}–{b}")
    }
}

pub(super) fn innermost(items: &[Item], x: Extent) -> Option<&Item> {
    items.iter().filter(|i| x.within(i.extent)).max_by_key(|i| i.depth)
}

/// A hunk in doc comments alone names the item they document, unless a
/// macro on it or its container can read them (then it is an attribute
/// change like any other).
pub(super) fn doc_edit(items: &[Item], x: Extent) -> Option<DocEdit> {
    match innermost(items, x) {
        Some(item) if item.docs_read => None,
        Some(item) => Some(DocEdit {
            item: item.path.clone(),
            lines: [item.extent.start.line, item.extent.end.line],
        }),
        // The crate's own docs (`//!` at the top of the file).
        None => Some(DocEdit {
            item: String::new(),
            lines: [x.start.line, x.end.line],
        }),
    }
}

pub(super) fn items(items: &[syn::Item]) -> Vec<Item> {
    let mut out = Vec::new();
    walk_items(items, "", false, 0, &mut out);
    out
}

/// Attributes that read nothing of an item's docs: the compiler's own.
pub(super) fn reads_docs(attrs: &[syn::Attribute]) -> bool {
    const INERT: &[&str] = &[
        "doc",
        "inline",
        "cold",
        "must_use",
        "allow",
        "warn",
        "deny",
        "forbid",
        "expect",
        "deprecated",
        "cfg",
        "cfg_attr",
        "track_caller",
        "non_exhaustive",
        "repr",
        "test",
        "ignore",
        "should_panic",
        "automatically_derived",
        "rustfmt",
        "clippy",
        "macro_export",
        "path",
    ];
    const STD_DERIVES: &[&str] = &[
        "Debug",
        "Clone",
        "Copy",
        "PartialEq",
        "Eq",
        "PartialOrd",
        "Ord",
        "Hash",
        "Default",
    ];
    attrs.iter().any(|a| {
        let path = a.path();
        if path.is_ident("derive") {
            let mut foreign = false;
            let _ = a.parse_nested_meta(|m| {
                if !STD_DERIVES.iter().any(|d| m.path.is_ident(d)) {
                    foreign = true;
                }
                Ok(())
            });
            return foreign;
        }
        let first = path.segments.first().map(|s| s.ident.to_string()).unwrap_or_default();
        !INERT.contains(&first.as_str())
    })
}

pub(super) fn walk_items(items: &[syn::Item], prefix: &str, read: bool, depth: usize, out: &mut Vec<Item>) {
    for item in items {
        let extent = span_extent(item.span());
        let mut push = |name: String, why: &'static str, path: String, attrs: &[syn::Attribute]| {
            out.push(Item {
                name,
                why,
                path,
                extent,
                docs_read: read || reads_docs(attrs),
                depth,
            })
        };
        let at = |ident: &dyn std::fmt::Display| format!("{prefix}{ident}");
        // Items without a path of their own are documented as the module's.
        let here = prefix.trim_end_matches("::").to_owned();
        match item {
            syn::Item::Const(c) => push(
                format!("const {}", c.ident),
                "evaluated at compile time",
                at(&c.ident),
                &c.attrs,
            ),
            syn::Item::Static(s) => push(
                format!("static {}", s.ident),
                "evaluated at compile time",
                at(&s.ident),
                &s.attrs,
            ),
            syn::Item::Struct(s) => push(
                format!("struct {}", s.ident),
                "a type definition",
                at(&s.ident),
                &s.attrs,
            ),
            syn::Item::Enum(e) => push(format!("enum {}", e.ident), "a type definition", at(&e.ident), &e.attrs),
            syn::Item::Union(u) => push(
                format!("union {}", u.ident),
                "a type definition",
                at(&u.ident),
                &u.attrs,
            ),
            syn::Item::Type(t) => push(format!("type {}", t.ident), "a type alias", at(&t.ident), &t.attrs),
            syn::Item::Fn(f) => {
                let name = format!(
                    "{}fn {}",
                    if f.sig.constness.is_some() { "const " } else { "" },
                    f.sig.ident
                );
                push(name, fn_why(&f.sig), at(&f.sig.ident), &f.attrs);
                nested_items(&f.block, &format!("fn {}", f.sig.ident), depth + 1, out);
            }
            syn::Item::Impl(i) => {
                let self_ty = tokens(&i.self_ty);
                let name = match &i.trait_ {
                    Some((_, p, _)) => format!("impl {} for {self_ty}", tokens(p)),
                    None => format!("impl {self_ty}"),
                };
                push(name, "an `impl` block's header or items", at(&self_ty), &i.attrs);
                let read = read || reads_docs(&i.attrs);
                for it in &i.items {
                    let extent = span_extent(it.span());
                    let (name, why, path, attrs): (String, &'static str, String, &[syn::Attribute]) = match it {
                        syn::ImplItem::Const(c) => (
                            format!("const {self_ty}::{}", c.ident),
                            "evaluated at compile time",
                            format!("{prefix}{self_ty}::{}", c.ident),
                            &c.attrs,
                        ),
                        syn::ImplItem::Fn(f) => (
                            format!("{}fn {self_ty}::{}", const_word(&f.sig), f.sig.ident),
                            fn_why(&f.sig),
                            format!("{prefix}{self_ty}::{}", f.sig.ident),
                            &f.attrs,
                        ),
                        syn::ImplItem::Type(t) => (
                            format!("type {self_ty}::{}", t.ident),
                            "an associated type",
                            format!("{prefix}{self_ty}::{}", t.ident),
                            &t.attrs,
                        ),
                        syn::ImplItem::Macro(m) => (
                            format!("{}!", tokens(&m.mac.path)),
                            "an item-level macro call (it expands to items)",
                            format!("{prefix}{self_ty}"),
                            &m.attrs,
                        ),
                        _ => (
                            format!("an item of impl {self_ty}"),
                            "an item of an `impl` block",
                            format!("{prefix}{self_ty}"),
                            &[],
                        ),
                    };
                    out.push(Item {
                        name,
                        why,
                        path,
                        extent,
                        docs_read: read || reads_docs(attrs),
                        depth: depth + 1,
                    });
                    if let syn::ImplItem::Fn(f) = it {
                        nested_items(&f.block, &format!("fn {self_ty}::{}", f.sig.ident), depth + 2, out);
                    }
                }
            }
            syn::Item::Trait(t) => {
                push(
                    format!("trait {}", t.ident),
                    "a trait definition",
                    at(&t.ident),
                    &t.attrs,
                );
                let read = read || reads_docs(&t.attrs);
                for it in &t.items {
                    let extent = span_extent(it.span());
                    let (name, why, attrs): (String, &'static str, &[syn::Attribute]) = match it {
                        syn::TraitItem::Fn(f) => (
                            format!("fn {}::{}", t.ident, f.sig.ident),
                            "a trait method's signature or attributes",
                            &f.attrs,
                        ),
                        syn::TraitItem::Const(c) => (
                            format!("const {}::{}", t.ident, c.ident),
                            "evaluated at compile time",
                            &c.attrs,
                        ),
                        _ => (format!("an item of trait {}", t.ident), "a trait definition", &[]),
                    };
                    out.push(Item {
                        name,
                        why,
                        path: format!("{prefix}{}", t.ident),
                        extent,
                        docs_read: read || reads_docs(attrs),
                        depth: depth + 1,
                    });
                }
            }
            syn::Item::Mod(m) => {
                push(
                    format!("mod {}", m.ident),
                    "a module declaration",
                    at(&m.ident),
                    &m.attrs,
                );
                if let Some((_, inner)) = &m.content {
                    let read = read || reads_docs(&m.attrs);
                    walk_items(inner, &format!("{prefix}{}::", m.ident), read, depth + 1, out);
                }
            }
            syn::Item::Macro(m) => {
                if m.mac.path.is_ident("macro_rules") {
                    let name = m.ident.as_ref().map(|i| i.to_string()).unwrap_or_default();
                    push(
                        format!("macro_rules! {name}"),
                        "a macro definition (expanded at compile time)",
                        at(&name),
                        &m.attrs,
                    );
                } else {
                    push(
                        format!("{}!", tokens(&m.mac.path)),
                        "an item-level macro call (it expands to items)",
                        here.clone(),
                        &m.attrs,
                    );
                }
            }
            syn::Item::Use(u) => push("use …".into(), "an import", here.clone(), &u.attrs),
            syn::Item::ExternCrate(e) => push(
                format!("extern crate {}", e.ident),
                "an `extern` item",
                here.clone(),
                &e.attrs,
            ),
            syn::Item::ForeignMod(f) => push("extern block".into(), "an `extern` block", here.clone(), &f.attrs),
            syn::Item::TraitAlias(t) => push(format!("trait {}", t.ident), "a trait alias", at(&t.ident), &t.attrs),
            _ => push(
                "an item".into(),
                "an item the parser keeps as tokens",
                here.clone(),
                &[],
            ),
        }
    }
}

pub(super) fn const_word(sig: &syn::Signature) -> &'static str {
    if sig.constness.is_some() {
        "const "
    } else {
        ""
    }
}

pub(super) fn fn_why(sig: &syn::Signature) -> &'static str {
    if sig.constness.is_some() {
        "a `const fn` (evaluated at compile time where a const context calls it)"
    } else {
        "its signature or attributes (outside its body)"
    }
}

/// Why a `cfg` attribute inside a body is named: what it governs is placed
/// as an edit of the whole body (the code it leaves out has no map).
pub(super) const CFG_WHY: &str = "conditional compilation (code it left out has no map)";

/// Items, `const` blocks and `cfg` attributes inside a function's body.
pub(super) fn nested_items(block: &syn::Block, owner: &str, depth: usize, out: &mut Vec<Item>) {
    struct Find<'a> {
        owner: &'a str,
        depth: usize,
        out: &'a mut Vec<Item>,
    }
    impl Find<'_> {
        fn push(&mut self, what: String, why: &'static str, span: proc_macro2::Span) {
            self.out.push(Item {
                name: format!("{what} inside `{}`", self.owner),
                why,
                path: String::new(),
                extent: Extent {
                    start: span.start().into(),
                    end: span.end().into(),
                },
                docs_read: true,
                depth: self.depth,
            });
        }
    }
    impl<'ast> Visit<'ast> for Find<'_> {
        fn visit_item(&mut self, i: &'ast syn::Item) {
            self.push("an item".into(), "an item nested in a function", i.span());
        }
        fn visit_expr_const(&mut self, c: &'ast syn::ExprConst) {
            self.push("a `const` block".into(), "evaluated at compile time", c.span());
        }
        fn visit_attribute(&mut self, a: &'ast syn::Attribute) {
            if a.path().is_ident("cfg") || a.path().is_ident("cfg_attr") {
                self.push("a `cfg` attribute".into(), CFG_WHY, a.span());
            }
        }
    }
    Find { owner, depth, out }.visit_block(block);
}
