//! What a change to a Rust file touches, by its syntax. The old and the new
//! text are lexed into tokens (comments and layout are not tokens; doc
//! comments are, as `#[doc]` attributes), the two token lists are diffed,
//! and each hunk is placed in its innermost syntactic container with a real
//! parser (syn). Only a hunk wholly inside the body of a non-`const`
//! function, outside any item or `const` block nested there, can be
//! answered by the coverage maps: everything else (a `static` table, a
//! field's type, a `where` clause, a macro arm…) runs or is checked at
//! compile time, where no test's map reaches. Pure: text in, placements out.
//! Here: the answer and the hunks' placing; `tokens` lexing and diffing,
//! `bodies` function bodies and inert attributes, `items` every item and
//! why an edit to it is compile-time.

use proc_macro2::{Delimiter, LineColumn, TokenStream, TokenTree};
use syn::spanned::Spanned;
use syn::visit::Visit;

mod bodies;
mod items;
mod tokens;
use bodies::*;
use items::*;
use tokens::*;

/// What the change between two texts of one file is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attribution {
    /// No token changed: only comments and layout.
    Layout,
    /// Every hunk lies in function bodies, doc comments, or the value of
    /// a `const` or `static` (whose readers the caller finds).
    Code {
        /// The changed code, as lines of the old text, by function.
        bodies: Vec<BodyEdit>,
        /// Doc comments changed where nothing but rustdoc reads them.
        docs: Vec<DocEdit>,
        /// `const`s and `static`s whose type or initializer changed.
        values: Vec<ValueEdit>,
        /// Item-level macro calls changed or added, which a test macro's
        /// definition may answer for (`rgtest!(name, |…| …)`).
        calls: Vec<CallEdit>,
    },
    /// A hunk the maps cannot answer for, and why ("`static TABLE`
    /// (lines 40–46) changed: evaluated at compile time").
    Static(String),
}

/// A hunk inside one function's body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BodyEdit {
    /// `fn price`, `Money::fn add`.
    pub function: String,
    /// The hunk in the old text (for an insertion, the lines either side).
    pub old_lines: [u32; 2],
}

/// A module-level `const` or `static` whose type or initializer changed
/// (not its name, attributes or visibility): evaluated at compile time, its
/// value reaches only the code that names it. Where every place naming it
/// is a function body (or a `use` that keeps its name), the tests that
/// reach those bodies are the ones it can change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueEdit {
    /// `DEFAULT_TYPES`.
    pub name: String,
    /// "`const DEFAULT_TYPES` (lines 12–343) changed: evaluated at compile
    /// time": the reason when its readers cannot answer.
    pub why: String,
    /// `pub`: other crates (and doctests) may name it.
    pub public: bool,
    /// Not a value: a function or inherent method the change adds, named
    /// nowhere in the file's old text (the bodies elsewhere that name it
    /// may now resolve to it).
    pub added: bool,
}

/// An item-level macro call whose arguments changed (not its first, the
/// name of what it defines), or a new one: if the macro is one that defines
/// exactly one test named by that first argument (the caller looks at its
/// `macro_rules!`), the edit is that test's own, placed by the maps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallEdit {
    /// `rgtest`.
    pub macro_name: String,
    /// The static tier's reason, if the macro is not such a one.
    pub why: String,
    /// The changed lines of the old text (`None`: the call is new).
    pub old_lines: Option<[u32; 2]>,
}

/// A doc comment changed on one item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocEdit {
    /// The item's path as rustdoc names its examples (`Money::add`); empty
    /// for the crate's or module's own docs (`//!`).
    pub item: String,
    /// The item's lines in the new text.
    pub lines: [u32; 2],
}

/// Places every hunk between `old` and `new` (the same file's texts).
pub fn attribute(old: &str, new: &str) -> Attribution {
    let result = attribute_inner(old, new);
    // The lexer keeps every text it read in a per-thread map for spans;
    // nothing holds a span past this point.
    proc_macro2::extra::invalidate_current_thread_spans();
    result
}

fn attribute_inner(old: &str, new: &str) -> Attribution {
    let (old_side, new_side) = match (lex(old), lex(new)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) => return Attribution::Static(format!("the text it had does not parse ({e})")),
        (_, Err(e)) => return Attribution::Static(format!("it does not parse ({e})")),
    };
    let (a, b) = (&old_side.toks, &new_side.toks);
    let hunks = token_hunks(a, b);
    if hunks.is_empty() {
        return Attribution::Layout;
    }
    // The items the hunks touch, parsed (all of the file where one of them
    // does not parse alone).
    // The text it had built (a map was measured on it): its statements
    // need no parsing, only where its bodies and nested items are. The
    // text now may not build: all of what a hunk touches is parsed.
    let old_items = match parse_touched(&old_side, hunks.iter().map(|h| h.old), true) {
        Ok(items) => items,
        Err(e) => return Attribution::Static(format!("the text it had does not parse ({e})")),
    };
    let new_items = match parse_touched(&new_side, hunks.iter().map(|h| h.new), false) {
        Ok(items) => items,
        Err(e) => return Attribution::Static(format!("it does not parse ({e})")),
    };
    let (old_file, new_file) = (&old_items, &new_items);
    // Functions and inherent methods the change only adds, named nowhere
    // in the old text: no existing test can reach them (the tests that
    // call them are new, or call them from an edited body). They are taken
    // out of the new text before the rest is placed.
    let new_fns = added_functions(a, new_file);
    let mut added: Vec<Extent> = new_fns.iter().map(|f| f.extent).collect();
    // So are whole new item-level macro calls whose first argument is a
    // name the old text lacks (a test macro's new test, if the macro is
    // one: the caller looks).
    let mut calls: Vec<CallEdit> = Vec::new();
    added.extend(new_macros(a, new_file));
    for c in new_calls(a, new_file) {
        added.push(c.extent);
        calls.push(CallEdit {
            macro_name: c.path.clone(),
            why: c.why(),
            old_lines: None,
        });
    }
    let kept: Vec<Tok>;
    let (b, hunks) = if added.is_empty() {
        (b, hunks)
    } else {
        kept = b
            .iter()
            .filter(|t| {
                let p = t.start();
                !added.iter().any(|x| x.start <= p && p < x.end)
            })
            .cloned()
            .collect();
        let hunks = token_hunks(a, &kept);
        (&kept, hunks)
    };
    let old_bodies = bodies(old_file);
    let new_bodies = bodies(new_file);
    let mut out_bodies = Vec::new();
    let mut docs = Vec::new();
    // A new function's name, where code elsewhere names it, is placed like
    // a value: the bodies naming it are where a call may now resolve to it.
    let mut values: Vec<ValueEdit> = new_fns
        .iter()
        .map(|f| ValueEdit {
            name: f.name.clone(),
            why: format!(
                "`{}` (lines {}–{}) added, and code that names `{}` may now call it",
                f.label, f.extent.start.line, f.extent.end.line, f.name
            ),
            public: f.public,
            added: true,
        })
        .collect();
    let mut named = None;
    let mut fn_zones = None;
    let mut known_values = None;
    let mut known_calls = None;
    for h in hunks {
        let old_x = extent(a, h.old.0, h.old.1);
        let new_x = extent(b, h.new.0, h.new.1);
        let in_old = body_of(&old_bodies, old_x);
        let in_new = body_of(&new_bodies, new_x);
        if let (Some(o), Some(n)) = (in_old, in_new) {
            if o.name == n.name {
                out_bodies.push(BodyEdit {
                    function: o.name.clone(),
                    old_lines: o.edited_lines(old_x, n.touches_cfg(new_x)),
                });
                continue;
            }
        }
        // `#![doc(html_root_url = "…")]` and its kin (only rustdoc's pages
        // read them, not the doctests, not the code), and the crate's lint
        // levels that cannot fail a build (`#![allow(…)]`, `warn`, `expect`).
        if added.is_empty() && inert_inner(&old_side, h.old) && inert_inner(&new_side, h.new) {
            continue;
        }
        // Attributes on a function that change nothing a test can see
        // (`#[inline]`, `#[must_use]`, lint levels): placed like its body.
        let zones = fn_zones.get_or_insert_with(|| (zones(old_file), zones(new_file)));
        if let Some(edit) = inert_attribute_edit(&zones.0, &zones.1, a, b, &h) {
            out_bodies.push(edit);
            continue;
        }
        // A `const` or `static`'s value (its initializer, its type): its
        // readers decide, found by the caller.
        let known = known_values.get_or_insert_with(|| (self::values(old_file), self::values(new_file)));
        if let (Some(o), Some(n)) = (value_at(&known.0, old_x), value_at(&known.1, new_x)) {
            if o.name == n.name && o.public == n.public {
                if !values.iter().any(|v: &ValueEdit| v.name == n.name) {
                    values.push(n.clone());
                }
                continue;
            }
        }
        // A private `use` whose names changed where nothing else names
        // them: only method resolution in its module can change.
        if let Some(edit) = private_use_edit(old_file, new_file, a, b, &h, old_side.text.lines().count() as u32) {
            if !out_bodies.contains(&edit) {
                out_bodies.push(edit);
            }
            continue;
        }
        // An item-level macro call's arguments, past the name it defines.
        let listed = known_calls.get_or_insert_with(|| {
            let (mut o, mut n) = (Vec::new(), Vec::new());
            macro_calls(old_file, &mut o);
            macro_calls(new_file, &mut n);
            (o, n)
        });
        if let (Some(o), Some(n)) = (macro_call(&listed.0, old_x), macro_call(&listed.1, new_x)) {
            if o.path == n.path && o.first == n.first && o.first.is_some() && old_x.start > o.name_end {
                calls.push(CallEdit {
                    macro_name: n.path.clone(),
                    why: n.why(),
                    old_lines: Some([old_x.start.line, old_x.end.line.max(old_x.start.line)]),
                });
                continue;
            }
        }
        let items = named.get_or_insert_with(|| items(new_file));
        let doc_only = a[h.old.0..h.old.1].iter().all(|t| t.doc) && b[h.new.0..h.new.1].iter().all(|t| t.doc);
        if doc_only {
            if let Some(doc) = doc_edit(items, new_x) {
                docs.push(doc);
                continue;
            }
        }
        // Name the innermost item of the text the user sees, else of the
        // text it had.
        let why = match innermost(items, new_x) {
            Some(item) => item.describe(),
            None => match innermost(&self::items(old_file), old_x) {
                Some(item) => item.describe(),
                None => format!(
                    "{} changed outside every item (an item added, removed or moved)",
                    shown_lines(new_x.start.line, new_x.end.line)
                ),
            },
        };
        return Attribution::Static(why);
    }
    Attribution::Code {
        bodies: out_bodies,
        docs,
        values,
        calls,
    }
}

/// The module (an inline `mod`'s items, or the file's) whose direct items
/// hold `x`, with the module's extent (`None`: the file).
fn module_of(items: &[syn::Item], x: Extent) -> (&[syn::Item], Option<Extent>) {
    for item in items {
        if let syn::Item::Mod(m) = item {
            if let Some((brace, inner)) = &m.content {
                let inside = Extent {
                    start: brace.span.open().end().into(),
                    end: brace.span.close().start().into(),
                };
                if x.within(inside) {
                    let (found, ext) = module_of(inner, x);
                    return (found, ext.or(Some(inside)));
                }
            }
        }
    }
    (items, None)
}

/// The names a `use` tree brings in (`*` for a glob).
fn use_names(tree: &syn::UseTree, out: &mut std::collections::BTreeSet<String>) {
    match tree {
        syn::UseTree::Path(p) => use_names(&p.tree, out),
        syn::UseTree::Name(n) => {
            out.insert(n.ident.to_string());
        }
        syn::UseTree::Rename(r) => {
            out.insert(r.rename.to_string());
        }
        syn::UseTree::Glob(_) => {
            out.insert("*".into());
        }
        syn::UseTree::Group(g) => g.items.iter().for_each(|t| use_names(t, out)),
    }
}

/// A hunk that lies wholly in private (`use` without `pub`) imports of one
/// module, on both sides, and changes which names they bring in, where
/// none of those names is named anywhere else in that module (the old
/// text's, for one brought in; the new text's, for one let go): no path
/// resolves differently, only which trait's method a call finds, which
/// only function bodies do. Placed as an edit of the whole module (of the
/// whole file, `lines` long, for the file's own imports); not where the
/// file declares a module in another file (`mod x;`), which sees them too.
fn private_use_edit(
    old: &[syn::Item],
    new: &[syn::Item],
    a: &[Tok],
    b: &[Tok],
    h: &Hunk,
    lines: u32,
) -> Option<BodyEdit> {
    let side = |items: &[syn::Item], toks: &[Tok], range: (usize, usize)| {
        let x = extent(toks, range.0, range.1);
        let (module, ext) = module_of(items, x);
        let mut names = std::collections::BTreeSet::new();
        let mut uses: Vec<Extent> = Vec::new();
        for item in module {
            let syn::Item::Use(u) = item else { continue };
            let e = span_extent(item.span());
            // An insertion counts where it falls inside a `use`, not at
            // its edge (a new `use` before the first brings none of
            // that one's names in or out).
            if overlaps(e, x) || (x.start == x.end && e.start < x.start && x.end < e.end) {
                if !matches!(u.vis, syn::Visibility::Inherited) {
                    return None;
                }
                use_names(&u.tree, &mut names);
                uses.push(e);
            }
        }
        // Every token of the hunk inside one of them.
        let inside = toks[range.0..range.1]
            .iter()
            .all(|t| uses.iter().any(|e| e.start <= t.start() && t.end() <= e.end));
        (inside && !names.contains("*")).then_some((names, ext))
    };
    let (was, old_ext) = side(old, a, h.old)?;
    let (now, new_ext) = side(new, b, h.new)?;
    if was == now || old_ext.is_some() != new_ext.is_some() {
        return None;
    }
    // No module of another file (`mod x;`), which would see the module's
    // imports: read from the tokens (only touched items are parsed).
    let (mod_word, semi) = (hash_of("mod"), hash_of(";"));
    let out_of_line = |toks: &[Tok]| {
        toks.windows(3)
            .any(|w| w[0].kind == Kind::Ident && w[0].hash == mod_word && w[1].kind == Kind::Ident && w[2].hash == semi)
    };
    if out_of_line(a) || out_of_line(b) {
        return None;
    }
    // Named elsewhere in the module (outside every `use`, whoever's: a
    // child module's own import is not a path through this one).
    let added: std::collections::HashSet<u64> = now.difference(&was).map(hash_of).collect();
    let removed: std::collections::HashSet<u64> = was.difference(&now).map(hash_of).collect();
    let use_word = hash_of("use");
    let dollar = hash_of("$");
    let elsewhere = |toks: &[Tok], ext: Option<Extent>, names: &std::collections::HashSet<u64>| {
        let mut in_use = false;
        let mut fragment = false;
        toks.iter().any(|t| {
            // `$file_name` in a macro's rules is a fragment, not a path.
            let after_dollar = std::mem::replace(&mut fragment, t.hash == dollar);
            if t.kind == Kind::Ident && t.hash == use_word {
                in_use = true;
            } else if in_use && t.hash == semi {
                in_use = false;
                return false;
            }
            let here = ext.is_none_or(|e| e.start <= t.start() && t.end() <= e.end);
            here && !in_use && !after_dollar && t.kind == Kind::Ident && names.contains(&t.hash)
        })
    };
    if elsewhere(a, old_ext, &added) || elsewhere(b, new_ext, &removed) {
        return None;
    }
    let lines = match old_ext {
        Some(e) => [e.start.line, e.end.line],
        None => [1, lines.max(1)],
    };
    Some(BodyEdit {
        function: "the module's imports".into(),
        old_lines: lines,
    })
}

/// An item-level macro call (`name!(first, …);`).
struct Call {
    path: String,
    /// Its first argument, when that is a name.
    first: Option<String>,
    /// Where that name ends (the call's start if there is none).
    name_end: Pos,
    extent: Extent,
}

impl Call {
    fn why(&self) -> String {
        format!(
            "`{}!` ({}) changed: an item-level macro call (it expands to items)",
            self.path,
            shown_lines(self.extent.start.line, self.extent.end.line)
        )
    }
}

fn call_of(m: &syn::ItemMacro) -> Option<Call> {
    if m.mac.path.is_ident("macro_rules") || m.ident.is_some() {
        return None;
    }
    let mut first = m.mac.tokens.clone().into_iter();
    // Where it is, from its own tokens (re-printing a call as large as a
    // file's `s! { … }` for each hunk made a file's placing quadratic).
    let start = match (m.attrs.first(), &m.mac.path.leading_colon, m.mac.path.segments.first()) {
        (Some(a), _, _) => a.pound_token.span,
        (None, Some(c), _) => c.spans[0],
        (None, None, Some(seg)) => seg.ident.span(),
        (None, None, None) => return None,
    };
    let end = match &m.semi_token {
        Some(semi) => semi.span,
        None => m.mac.delimiter.span().close(),
    };
    let (first, name_end) = match first.next() {
        Some(TokenTree::Ident(i)) => (Some(i.to_string()), i.span().end().into()),
        _ => (None, start.start().into()),
    };
    Some(Call {
        path: tokens(&m.mac.path),
        first,
        name_end,
        extent: Extent {
            start: start.start().into(),
            end: end.end().into(),
        },
    })
}

/// The module-level (and inline modules') macro calls, listed once.
fn macro_calls(items: &[syn::Item], out: &mut Vec<Call>) {
    for item in items {
        match item {
            syn::Item::Macro(m) => out.extend(call_of(m)),
            syn::Item::Mod(m) => {
                if let Some((_, inner)) = &m.content {
                    macro_calls(inner, out);
                }
            }
            _ => {}
        }
    }
}

/// The call (of those `macro_calls` listed) holding `x`.
fn macro_call(calls: &[Call], x: Extent) -> Option<&Call> {
    calls.iter().find(|c| x.within(c.extent))
}

/// The `macro_rules!` a change adds inside an inline module (its textual
/// scope: what follows it there), not exported nor spread by
/// `#[macro_use]`, under a name nothing in the old text (`old`) invokes:
/// no existing code can expand it.
fn new_macros(old: &[Tok], items: &[syn::Item]) -> Vec<Extent> {
    let bang = hash_of("!");
    // Invoked (`NAME!`) or defined (`macro_rules! NAME`) in the old text.
    let invoked: std::collections::HashSet<u64> = old
        .windows(2)
        .filter(|w| w[0].kind == Kind::Ident && w[1].hash == bang)
        .map(|w| w[0].hash)
        .chain(
            old.windows(3)
                .filter(|w| w[0].hash == hash_of("macro_rules") && w[1].hash == bang)
                .map(|w| w[2].hash),
        )
        .collect();
    let spread = |attrs: &[syn::Attribute]| {
        attrs
            .iter()
            .any(|a| a.path().is_ident("macro_export") || a.path().is_ident("macro_use"))
    };
    fn walk(
        items: &[syn::Item],
        inside: bool,
        invoked: &std::collections::HashSet<u64>,
        spread: &dyn Fn(&[syn::Attribute]) -> bool,
        out: &mut Vec<Extent>,
    ) {
        for item in items {
            match item {
                syn::Item::Macro(m) if inside && m.mac.path.is_ident("macro_rules") && !spread(&m.attrs) => {
                    if let Some(name) = &m.ident {
                        if !invoked.contains(&hash_of(name)) {
                            out.push(span_extent(item.span()));
                        }
                    }
                }
                syn::Item::Mod(m) if !spread(&m.attrs) => {
                    if let Some((_, inner)) = &m.content {
                        walk(inner, true, invoked, spread, out);
                    }
                }
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(items, false, &invoked, &spread, &mut out);
    out
}

/// The item-level macro calls of `items` whose first argument is a name
/// no token of the old text (`old`) carries.
fn new_calls(old: &[Tok], items: &[syn::Item]) -> Vec<Call> {
    let old_names: std::collections::HashSet<u64> = old.iter().map(|t| t.hash).collect();
    let mut out = Vec::new();
    collect_new_calls(&old_names, items, &mut out);
    out
}

fn collect_new_calls(old_names: &std::collections::HashSet<u64>, items: &[syn::Item], out: &mut Vec<Call>) {
    for item in items {
        match item {
            syn::Item::Macro(m) => {
                if let Some(c) = call_of(m) {
                    if c.first.as_ref().is_some_and(|n| !old_names.contains(&hash_of(n))) {
                        out.push(c);
                    }
                }
            }
            syn::Item::Mod(m) => {
                if let Some((_, inner)) = &m.content {
                    collect_new_calls(old_names, inner, out);
                }
            }
            _ => {}
        }
    }
}

/// Whether the `macro_rules! name` definitions in `text` each expand, arm
/// by arm, to exactly one `#[test]` function named by the arm's first
/// fragment (`($name:ident, …) => { #[test] fn $name() { … } }`): then a
/// call's other arguments are that test's alone. `None`: `text` defines
/// no such macro.
pub fn defines_one_test(text: &str, name: &str) -> Option<bool> {
    let result = defines_one_test_inner(text, name);
    proc_macro2::extra::invalidate_current_thread_spans();
    result
}

fn defines_one_test_inner(text: &str, name: &str) -> Option<bool> {
    let file = syn::parse_file(text).ok();
    let Some(file) = file else {
        // Unreadable: it may define it.
        return text.contains(name).then_some(false);
    };
    let mut defs: Vec<&syn::ItemMacro> = Vec::new();
    fn walk<'a>(items: &'a [syn::Item], name: &str, out: &mut Vec<&'a syn::ItemMacro>) {
        for i in items {
            match i {
                syn::Item::Macro(m)
                    if m.mac.path.is_ident("macro_rules") && m.ident.as_ref().is_some_and(|x| x == name) =>
                {
                    out.push(m)
                }
                syn::Item::Mod(m) => {
                    if let Some((_, inner)) = &m.content {
                        walk(inner, name, out);
                    }
                }
                _ => {}
            }
        }
    }
    walk(&file.items, name, &mut defs);
    if defs.is_empty() {
        return None;
    }
    Some(defs.iter().all(|m| arms_define_one_test(m.mac.tokens.clone())))
}

fn arms_define_one_test(rules: TokenStream) -> bool {
    let trees: Vec<TokenTree> = rules.into_iter().collect();
    let mut i = 0;
    let mut arms = 0;
    while i < trees.len() {
        let (
            Some(TokenTree::Group(matcher)),
            Some(TokenTree::Punct(eq)),
            Some(TokenTree::Punct(gt)),
            Some(TokenTree::Group(body)),
        ) = (trees.get(i), trees.get(i + 1), trees.get(i + 2), trees.get(i + 3))
        else {
            return false;
        };
        if eq.as_char() != '=' || gt.as_char() != '>' {
            return false;
        }
        let m: Vec<TokenTree> = matcher.stream().into_iter().collect();
        let first = match (m.first(), m.get(1), m.get(2), m.get(3)) {
            (
                Some(TokenTree::Punct(d)),
                Some(TokenTree::Ident(x)),
                Some(TokenTree::Punct(c)),
                Some(TokenTree::Ident(k)),
            ) if d.as_char() == '$' && c.as_char() == ':' && k == "ident" => x.to_string(),
            _ => return false,
        };
        if !one_test_fn(body.stream(), &first) {
            return false;
        }
        arms += 1;
        i += 4;
        if matches!(trees.get(i), Some(TokenTree::Punct(p)) if p.as_char() == ';') {
            i += 1;
        }
    }
    arms > 0
}

/// `#[test] (#[…])* fn $first() { … }` and nothing else.
fn one_test_fn(body: TokenStream, first: &str) -> bool {
    let t: Vec<TokenTree> = body.into_iter().collect();
    let mut i = 0;
    let mut test = false;
    while let (Some(TokenTree::Punct(p)), Some(TokenTree::Group(g))) = (t.get(i), t.get(i + 1)) {
        if p.as_char() != '#' || g.delimiter() != Delimiter::Bracket {
            return false;
        }
        let inner = g.stream().to_string().replace(' ', "");
        test |= inner == "test" || inner == "tokio::test";
        i += 2;
    }
    let shape = matches!(
        (t.get(i), t.get(i + 1), t.get(i + 2), t.get(i + 3), t.get(i + 4)),
        (Some(TokenTree::Ident(f)), Some(TokenTree::Punct(d)), Some(TokenTree::Ident(n)), Some(TokenTree::Group(args)), Some(TokenTree::Group(b)))
            if f == "fn" && d.as_char() == '$' && *n == first && args.delimiter() == Delimiter::Parenthesis
                && args.stream().is_empty() && b.delimiter() == Delimiter::Brace
    );
    test && shape && t.len() == i + 5
}

/// A module-level `const` or `static` (in inline modules too): where its
/// type and initializer are, and what an edit there is.
pub(super) struct Value {
    /// From its type to the `;` after its initializer.
    value: Extent,
    edit: ValueEdit,
}

/// Every module-level `const` and `static` of `items` whose value only
/// its readers see: not `const _` (nothing names it, and what it holds is
/// checked or expands where it stands), and none whose initializer holds
/// an item (an `impl` there is seen by all). Extents come from the items'
/// own tokens, never from re-printing them: a file's values are listed
/// once, whatever the number of hunks.
pub(super) fn values(items: &[syn::Item]) -> Vec<Value> {
    let mut out = Vec::new();
    walk_values(items, &mut out);
    out
}

fn walk_values(items: &[syn::Item], out: &mut Vec<Value>) {
    for item in items {
        let (attrs, keyword, ident, vis, colon, expr, semi, word) = match item {
            syn::Item::Const(c) => (
                &c.attrs,
                c.const_token.span,
                &c.ident,
                &c.vis,
                c.colon_token.span,
                &c.expr,
                c.semi_token.span,
                "const",
            ),
            syn::Item::Static(s) => (
                &s.attrs,
                s.static_token.span,
                &s.ident,
                &s.vis,
                s.colon_token.span,
                &s.expr,
                s.semi_token.span,
                "static",
            ),
            syn::Item::Mod(m) => {
                if let Some((_, inner)) = &m.content {
                    walk_values(inner, out);
                }
                continue;
            }
            _ => continue,
        };
        if ident == "_" || holds_item(expr) {
            continue;
        }
        let first = attrs.first().map_or(keyword, |a| a.pound_token.span);
        let (a, b) = (first.start().line as u32, semi.end().line as u32);
        out.push(Value {
            value: Extent {
                start: colon.end().into(),
                end: semi.start().into(),
            },
            edit: ValueEdit {
                name: ident.to_string(),
                why: format!(
                    "`{word} {ident}` ({}) changed: evaluated at compile time",
                    shown_lines(a, b)
                ),
                public: matches!(vis, syn::Visibility::Public(_)),
                added: false,
            },
        });
    }
}

/// Whether an initializer holds an item (`const X: () = { impl … };`).
fn holds_item(expr: &syn::Expr) -> bool {
    struct Find(bool);
    impl<'ast> Visit<'ast> for Find {
        fn visit_item(&mut self, _: &'ast syn::Item) {
            self.0 = true;
        }
    }
    let mut f = Find(false);
    f.visit_expr(expr);
    f.0
}

/// The value (of those `values` lists) whose type or initializer holds `x`.
fn value_at(values: &[Value], x: Extent) -> Option<&ValueEdit> {
    values.iter().find(|v| x.within(v.value)).map(|v| &v.edit)
}

/// Where an `include_str!` or `include_bytes!` of a file sits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IncludePlace {
    /// In a non-`const` function body: its lines.
    Body([u32; 2]),
    /// In the initializer of this `const` or `static` (`pub`: whether it
    /// is): its readers decide.
    Value { name: String, public: bool },
    /// Anywhere else (an attribute, a macro's rules, a `const fn`): why.
    Elsewhere(String),
}

/// Every `include_str!("…")` and `include_bytes!("…")` in `text`: the path
/// as written (relative to the file's directory), and where it sits.
pub fn includes(text: &str) -> Result<Vec<(String, IncludePlace)>, String> {
    let result = includes_inner(text);
    proc_macro2::extra::invalidate_current_thread_spans();
    result
}

fn includes_inner(text: &str) -> Result<Vec<(String, IncludePlace)>, String> {
    let side = lex(text).map_err(|e| format!("it does not parse ({e})"))?;
    let toks = &side.toks;
    let word = |i: usize| {
        toks.get(i)
            .filter(|t| t.kind == Kind::Ident)
            .map(|t| text_of(&side.text, t))
    };
    let mut hits: Vec<(usize, String)> = Vec::new();
    for i in 0..toks.len() {
        if !matches!(word(i), Some("include_str" | "include_bytes")) {
            continue;
        }
        let bang = toks.get(i + 1).is_some_and(|t| t.kind == Kind::Punct(b'!', false));
        let open = toks.get(i + 2).is_some_and(|t| matches!(t.kind, Kind::Open(_)));
        let lit = toks
            .get(i + 3)
            .filter(|t| t.kind == Kind::Literal)
            .map(|t| text_of(&side.text, t));
        let path = lit.and_then(|l| l.strip_prefix('"')).and_then(|l| l.strip_suffix('"'));
        match (bang && open, path) {
            (true, Some(p)) if !p.contains('\\') => hits.push((i, p.to_owned())),
            (true, _) => {
                return Err(format!(
                    "line {}: an include whose path is not a plain string",
                    toks[i].start().line
                ))
            }
            _ => {}
        }
    }
    if hits.is_empty() {
        return Ok(Vec::new());
    }
    let items = parse_touched(&side, hits.iter().map(|(i, _)| (*i, i + 1)), false)
        .map_err(|e| format!("it does not parse ({e})"))?;
    let found = bodies(&items);
    let known = values(&items);
    let mut out = Vec::new();
    for (i, path) in hits {
        let x = extent(toks, i, i + 1);
        let place = if let Some(b) = body_of(&found, x) {
            IncludePlace::Body([b.inside.start.line, b.inside.end.line])
        } else if let Some(v) = value_at(&known, x) {
            IncludePlace::Value {
                name: v.name.clone(),
                public: v.public,
            }
        } else {
            let place = named_place(&items, x);
            IncludePlace::Elsewhere(format!("line {}: included by {place}", x.start.line))
        };
        out.push((path, place));
    }
    Ok(out)
}

/// The innermost item holding `x`, named with its lines ("`const K` (line
/// 2)"), for saying where a name or an include sits.
fn named_place(items: &[syn::Item], x: Extent) -> String {
    innermost(&self::items(items), x)
        .map(|item| {
            format!(
                "`{}` ({})",
                item.name,
                shown_lines(item.extent.start.line, item.extent.end.line)
            )
        })
        .unwrap_or_else(|| "outside every item".to_owned())
}

/// The extents of the `use` items, in inline modules too.
fn use_items(items: &[syn::Item], out: &mut Vec<Extent>) {
    for i in items {
        match i {
            syn::Item::Use(_) => out.push(span_extent(i.span())),
            syn::Item::Mod(m) => {
                if let Some((_, inner)) = &m.content {
                    use_items(inner, out);
                }
            }
            _ => {}
        }
    }
}

/// Whether `text` holds `name` as a word of its own (not inside a longer
/// identifier: `len` is not in `length`).
pub fn names_word(text: &str, name: &str) -> bool {
    let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    text.match_indices(name)
        .any(|(i, _)| !ident(text[..i].chars().next_back()) && !ident(text[i + name.len()..].chars().next()))
}

/// Where `text` (one source file of the workspace) names `name`, a
/// `const` or `static` whose value changed: the line ranges of the
/// function bodies that read it. `Err` names a place the maps cannot
/// answer for: a type, a signature, another `const`'s initializer, a
/// macro's rules, a `use` that renames it, a doc comment that may hold a
/// doctest reading it (`public` only: no doctest can name another).
pub fn value_readers(text: &str, name: &str, public: bool) -> Result<Vec<[u32; 2]>, String> {
    let result = value_readers_inner(text, name, public);
    proc_macro2::extra::invalidate_current_thread_spans();
    result
}

fn value_readers_inner(text: &str, name: &str, public: bool) -> Result<Vec<[u32; 2]>, String> {
    let side = lex(text).map_err(|e| format!("it does not parse ({e})"))?;
    let toks = &side.toks;
    let named = |i: usize| {
        toks.get(i)
            .is_some_and(|t| t.kind == Kind::Ident && text_of(&side.text, t) == name)
    };
    let word = |i: usize, w: &str| {
        toks.get(i)
            .is_some_and(|t| t.kind == Kind::Ident && text_of(&side.text, t) == w)
    };
    if public {
        if let Some(t) = toks.iter().find(|t| t.doc && names_word(text_of(&side.text, t), name)) {
            return Err(format!(
                "a doc comment names `{name}` (line {}; a doctest may read it)",
                t.start().line
            ));
        }
    }
    let hits: Vec<usize> = (0..toks.len()).filter(|&i| named(i)).collect();
    if hits.is_empty() {
        return Ok(Vec::new());
    }
    let items = parse_touched(&side, hits.iter().map(|&i| (i, i + 1)), false)
        .map_err(|e| format!("it does not parse ({e})"))?;
    let found = bodies(&items);
    let mut uses: Vec<Extent> = Vec::new();
    use_items(&items, &mut uses);
    let mut out: Vec<[u32; 2]> = Vec::new();
    for &i in &hits {
        let x = extent(toks, i, i + 1);
        if let Some(b) = body_of(&found, x) {
            let lines = [b.inside.start.line, b.inside.end.line];
            if !out.contains(&lines) {
                out.push(lines);
            }
            continue;
        }
        // Its own definition.
        let defined = i > 0
            && (word(i - 1, "const")
                || word(i - 1, "fn")
                || word(i - 1, "static")
                || (word(i - 1, "mut") && i > 1 && word(i - 2, "static")));
        // Brought in under its own name (`use a::NAME;`, `use a::{NAME, b}`).
        let renamed = word(i + 1, "as") && !named(i + 2);
        let imported = !renamed && uses.iter().any(|u| x.within(*u));
        if defined || imported {
            continue;
        }
        let place = named_place(&items, x);
        return Err(format!(
            "line {}: {place} names `{name}` outside a function body",
            x.start.line
        ));
    }
    out.sort_unstable();
    Ok(out)
}

/// The keys of `#![doc(…)]` that only rustdoc's pages read.
const RUSTDOC_PAGE: &[&str] = &[
    "html_root_url",
    "html_logo_url",
    "html_favicon_url",
    "html_playground_url",
    "issue_tracker_base_url",
    "html_no_source",
];

/// Whether the tokens `range` lie inside an inner attribute that changes no
/// code and no doctest: a `#![doc(…)]` whose keys are all rustdoc's page
/// settings, or a lint level that cannot fail the build.
fn inert_inner(side: &Side, range: (usize, usize)) -> bool {
    // An insertion: the gap between two tokens.
    let x = extent(&side.toks, range.0, range.1);
    side.chunks.iter().filter(|c| c.inner_attribute).any(|c| {
        let whole = Extent {
            start: side.toks[c.from].start(),
            end: side.toks[c.to - 1].end(),
        };
        if !x.within(whole) {
            return false;
        }
        // The attribute alone, as proc-macro2's trees.
        let Ok(stream) = placed_text(side, c.from, c.to).parse::<TokenStream>() else {
            return false;
        };
        let trees: Vec<TokenTree> = stream.into_iter().collect();
        trees.len() == 3 && (page_attribute(&trees) || lenient_lints(&trees))
    })
}

/// `#![allow(…)]`, `#![warn(…)]`, `#![expect(…)]`.
fn lenient_lints(trees: &[TokenTree]) -> bool {
    let Some(TokenTree::Group(g)) = trees.get(2) else {
        return false;
    };
    let inner: Vec<TokenTree> = g.stream().into_iter().collect();
    matches!(inner.as_slice(), [TokenTree::Ident(level), TokenTree::Group(args)]
        if ["allow", "warn", "expect"].contains(&level.to_string().as_str()) && args.delimiter() == Delimiter::Parenthesis)
}

fn page_attribute(trees: &[TokenTree]) -> bool {
    let Some(TokenTree::Group(g)) = trees.get(2) else {
        return false;
    };
    let inner: Vec<TokenTree> = g.stream().into_iter().collect();
    let [TokenTree::Ident(doc), TokenTree::Group(args)] = inner.as_slice() else {
        return false;
    };
    if doc != "doc" || args.delimiter() != Delimiter::Parenthesis {
        return false;
    }
    let mut key = true;
    for t in args.stream() {
        match t {
            TokenTree::Ident(i) if key => {
                if !RUSTDOC_PAGE.contains(&i.to_string().as_str()) {
                    return false;
                }
                key = false;
            }
            TokenTree::Punct(p) if p.as_char() == ',' => key = true,
            _ => {}
        }
    }
    true
}

fn parse_error(e: &syn::Error) -> String {
    let at = e.span().start();
    format!("line {}: {e}", at.line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bodies_of(old: &str, new: &str) -> Vec<BodyEdit> {
        match attribute(old, new) {
            Attribution::Code {
                bodies,
                docs,
                values,
                calls,
            } if docs.is_empty() && values.iter().all(|v| v.added) && calls.is_empty() => bodies,
            other => panic!("narrowed by bodies: {other:?}"),
        }
    }

    /// The one `const` or `static` whose value changed, as its reason.
    fn value_why(old: &str, new: &str) -> String {
        match attribute(old, new) {
            Attribution::Code { bodies, values, .. } if bodies.is_empty() && values.len() == 1 => values[0].why.clone(),
            other => panic!("a value: {other:?}"),
        }
    }

    fn why(old: &str, new: &str) -> String {
        match attribute(old, new) {
            Attribution::Static(why) => why,
            other => panic!("static: {other:?}"),
        }
    }

    const LIB: &str = "pub fn price(n: u32) -> u32 {\n    n * 10\n}\n\npub fn tax(n: u32) -> u32 {\n    n * 3\n}\n";

    #[test]
    fn an_edit_in_a_body_names_its_function_and_lines() {
        let new = LIB.replace("n * 10", "n * 11");
        assert_eq!(
            bodies_of(LIB, &new),
            vec![BodyEdit {
                function: "fn price".into(),
                old_lines: [2, 2]
            }]
        );
    }

    #[test]
    fn rustdoc_page_settings_change_no_code_and_no_doctest() {
        let old = format!("//! A crate.\n\n#![doc(html_root_url = \"https://docs.rs/x/1.0.7\")]\n#![no_std]\n\n{LIB}");
        let new = old.replace("1.0.7", "1.0.8");
        assert_eq!(
            attribute(&old, &new),
            Attribution::Code {
                bodies: Vec::new(),
                docs: Vec::new(),
                values: Vec::new(),
                calls: Vec::new()
            }
        );
        // A lint allowed at the crate's root: nothing; one denied can fail
        // the build.
        let old = format!("#![allow(\n    clippy::a,\n)]\n{LIB}");
        let new = old.replace("clippy::a,", "clippy::a,\n    clippy::b,");
        assert_eq!(
            attribute(&old, &new),
            Attribution::Code {
                bodies: Vec::new(),
                docs: Vec::new(),
                values: Vec::new(),
                calls: Vec::new()
            }
        );
        let denied = old.replace("allow", "deny");
        assert!(matches!(
            attribute(&denied, &denied.replace("clippy::a,", "clippy::a,\n    clippy::b,")),
            Attribution::Static(_)
        ));
        // `doc(test(…))` changes how doctests build: the crate's doctests.
        let old = format!("#![doc(test(attr(deny(warnings))))]\n{LIB}");
        let new = old.replace("deny", "warn");
        let Attribution::Code { docs, .. } = attribute(&old, &new) else {
            panic!("placed")
        };
        assert_eq!(docs.len(), 1, "{docs:?}");
    }

    #[test]
    fn inert_attributes_on_a_function_are_placed_like_its_body() {
        // Added before `pub`, changed, removed, a lint level, on a method.
        let whole = |function: &str, lines: [u32; 2]| BodyEdit {
            function: function.into(),
            old_lines: lines,
        };
        let inline = LIB.replace("pub fn tax", "#[inline]\npub fn tax");
        assert_eq!(bodies_of(LIB, &inline), vec![whole("fn tax", [5, 7])]);
        let always = inline.replace("#[inline]", "#[inline(always)]");
        assert_eq!(bodies_of(&inline, &always), vec![whole("fn tax", [6, 8])]);
        assert_eq!(bodies_of(&inline, LIB), vec![whole("fn tax", [6, 8])]);
        let lints = LIB.replace(
            "pub fn price",
            "#[must_use]\n#[allow(clippy::identity_op)]\npub fn price",
        );
        assert_eq!(bodies_of(LIB, &lints), vec![whole("fn price", [1, 3])]);
        let method = "struct M;\nimpl M {\n    fn get(&self) -> u32 {\n        1\n    }\n}\n";
        let cold = method.replace("    fn get", "    #[cold]\n    fn get");
        assert_eq!(bodies_of(method, &cold), vec![whole("M::fn get", [3, 5])]);
    }

    #[test]
    fn attributes_that_change_what_exists_or_what_a_test_sees_stay_static() {
        for attr in [
            "#[cfg(unix)]",
            "#[track_caller]",
            "#[no_mangle]",
            "#[test]",
            "#[tokio::main]",
        ] {
            let new = LIB.replace("pub fn tax", &format!("{attr}\npub fn tax"));
            assert!(why(LIB, &new).contains("fn tax"), "{attr}: {:?}", attribute(LIB, &new));
        }
        // An inert attribute beside a signature change is still a signature change.
        let new = LIB.replace("pub fn tax(n: u32)", "#[inline]\npub fn tax(n: u64)");
        assert!(matches!(attribute(LIB, &new), Attribution::Static(_)));
        // `pub` added next to `#[inline]` is not inert.
        let new = LIB.replace("pub fn tax", "#[inline]\npub(crate) fn tax");
        assert!(matches!(attribute(LIB, &new), Attribution::Static(_)));
    }

    #[test]
    fn a_new_function_is_placed_by_the_code_that_names_it() {
        // Only the new functions, each by its name, for the caller to look
        // for elsewhere (with whether it is `pub`: a doctest may name it).
        let added = |old: &str, new: &str| match attribute(old, new) {
            Attribution::Code {
                bodies,
                docs,
                values,
                calls,
            } if bodies.is_empty() && docs.is_empty() && calls.is_empty() && values.iter().all(|v| v.added) => {
                values.into_iter().map(|v| (v.name, v.public)).collect::<Vec<_>>()
            }
            other => panic!("only additions: {other:?}"),
        };
        // Between two functions, at the end, with docs and attributes.
        assert_eq!(
            added(
                LIB,
                &LIB.replace(
                    "pub fn tax",
                    "pub fn discount(n: u32) -> u32 {\n    n / 2\n}\n\npub fn tax"
                )
            ),
            [("discount".to_owned(), true)]
        );
        assert_eq!(
            added(
                LIB,
                &format!("{LIB}\n/// Half.\n#[inline]\nfn half(n: u32) -> u32 {{\n    n / 2\n}}\n")
            ),
            [("half".to_owned(), false)]
        );
        // A new test in the tests module.
        let tested = format!("{LIB}\n#[cfg(test)]\nmod tests {{\n    #[test]\n    fn a() {{}}\n}}\n");
        let more = tested.replace(
            "fn a() {}",
            "fn a() {}\n\n    #[test]\n    fn b() {\n        assert_eq!(super::tax(1), 3);\n    }",
        );
        assert_eq!(added(&tested, &more), [("b".to_owned(), false)]);
        // An inherent method: it is chosen over a trait's method of that
        // name wherever one is called, so its name is looked for too.
        let method = "pub struct M;\nimpl M {\n    pub fn get(&self) -> u32 {\n        1\n    }\n}\n";
        let two = method.replace(
            "impl M {\n",
            "impl M {\n    pub fn put(&self) -> u32 {\n        2\n    }\n\n",
        );
        let Attribution::Code { values, .. } = attribute(method, &two) else {
            panic!("an addition")
        };
        assert_eq!(values.len(), 1);
        assert_eq!(
            values[0].why,
            "`M::fn put` (lines 3–5) added, and code that names `put` may now call it"
        );
        // Added and called from an edited body: that body is the edit.
        let called = LIB
            .replace("n * 10", "double(n) * 5")
            .replace("pub fn tax", "fn double(n: u32) -> u32 {\n    n * 2\n}\n\npub fn tax");
        let got = bodies_of(LIB, &called);
        assert!(
            !got.is_empty() && got.iter().all(|b| b.function == "fn price" && b.old_lines[1] == 2),
            "{got:?}"
        );
    }

    #[test]
    fn a_new_functions_name_is_read_where_bodies_call_it_not_where_others_define_it() {
        let t = "pub trait Ext {\n    fn put(&self) -> u32;\n}\nimpl Ext for u8 {\n    fn put(&self) -> u32 {\n        1\n    }\n}\npub fn user(m: u8) -> u32 {\n    m.put()\n}\n";
        assert_eq!(value_readers(t, "put", false), Ok(vec![[9, 11]]));
        // A doc comment naming it (a doctest may call it), as a word only.
        let doc = format!("/// Calls `m.put()`.\n{t}");
        assert!(value_readers(&doc, "put", true).is_err());
        let prose = format!("/// Computes the output.\n{t}");
        assert_eq!(value_readers(&prose, "put", true), Ok(vec![[10, 12]]));
        assert!(names_word("x.put()", "put") && names_word("put", "put") && !names_word("output put_in", "put"));
    }

    #[test]
    fn additions_that_can_change_what_existing_code_resolves_to_stay_static() {
        let with = |extra: &str| format!("{LIB}\n{extra}\n");
        for extra in [
            // Named in the old text already (a glob import or the prelude
            // may have given it).
            "fn price2(n: u32) -> u32 { n }\nfn tax(n: u32) -> u32 { n }",
            "fn drop<T>(_: T) {}",
            "#[no_mangle]\npub extern \"C\" fn exported() {}",
            "#[ctor::ctor]\nfn at_start() {}",
            "pub struct Fresh;",
            "impl Clone for Price { fn clone(&self) -> Self { Price } }",
            "use std::collections::*;",
        ] {
            assert!(
                matches!(attribute(LIB, &with(extra)), Attribution::Static(_)),
                "{extra}"
            );
        }
    }

    #[test]
    fn two_edits_in_two_functions_are_two_hunks() {
        let new = LIB.replace("n * 10", "n * 11").replace("n * 3", "n * 4");
        let got = bodies_of(LIB, &new);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].old_lines, [2, 2]);
        assert_eq!(got[1].function, "fn tax");
        assert_eq!(got[1].old_lines, [6, 6]);
    }

    #[test]
    fn comments_and_layout_change_no_token() {
        let new = LIB.replace("    n * 10", "    // ten\n    n   *   10");
        assert_eq!(attribute(LIB, &new), Attribution::Layout);
    }

    #[test]
    fn a_multi_line_static_table_is_compile_time() {
        let old = "static TABLE: &[u8] = b\"\\\n0001\\\n0203\\\n0405\";\n\npub fn f() -> u8 {\n    TABLE[0]\n}\n";
        let new = old.replace("0203", "0213");
        // Compile-time: its readers, not a map of it, say what it reaches
        // (the static tier's reason if they cannot).
        assert_eq!(
            value_why(old, &new),
            "`static TABLE` (lines 1–4) changed: evaluated at compile time"
        );
    }

    #[test]
    fn a_const_array_line_is_compile_time() {
        let old = "pub const P: [u32; 3] = [\n    2,\n    3,\n    5,\n];\n";
        let new = old.replace("    3,", "    4,");
        assert!(value_why(old, &new).starts_with("`const P` (lines 1–5)"));
    }

    #[test]
    fn shapes_of_types_are_compile_time() {
        let s = "pub struct Price {\n    cents:\n        u32,\n}\n";
        assert!(why(s, &s.replace("u32", "u64")).starts_with("`struct Price`"));
        let e = "pub enum Kind {\n    A = 1,\n    B = 2,\n}\n";
        assert!(why(e, &e.replace("B = 2", "B = 3")).starts_with("`enum Kind`"));
        let w = "pub fn f<T>(t: T) -> String\nwhere\n    T: std::fmt::Debug,\n{\n    format!(\"{t:?}\")\n}\n";
        let got = why(w, &w.replace("Debug", "Display"));
        assert!(got.starts_with("`fn f` (lines 1–6) changed: its signature"), "{got}");
    }

    #[test]
    fn const_fns_macros_and_attributes_are_compile_time() {
        let c = "pub const fn twice(n: u32) -> u32 {\n    n * 2\n}\npub const X: u32 = twice(2);\n";
        assert!(why(c, &c.replace("n * 2", "n * 3")).starts_with("`const fn twice`"));
        let m = "macro_rules! num {\n    ($t:ty) => {\n        impl Num for $t {}\n    };\n}\nnum!(u8);\n";
        assert!(why(m, &m.replace("impl Num", "impl Other")).starts_with("`macro_rules! num` (lines 1–5)"));
        assert!(why(m, &m.replace("num!(u8)", "num!(u16)")).starts_with("`num!`"));
        let a = "#[cfg_attr(\n    feature = \"x\",\n    derive(Debug)\n)]\npub struct S;\n";
        assert!(why(a, &a.replace("Debug", "Clone")).starts_with("`struct S`"));
    }

    #[test]
    fn methods_trait_defaults_and_closures_narrow() {
        let m = "pub struct M(u32);\nimpl M {\n    pub fn add(&self, n: u32) -> u32 {\n        self.0 + n\n    }\n}\n";
        assert_eq!(
            bodies_of(m, &m.replace("self.0 + n", "self.0 + n + 1"))[0].function,
            "M::fn add"
        );
        let t = "pub trait T {\n    fn go(&self) -> u32 {\n        1\n    }\n}\n";
        assert_eq!(
            bodies_of(t, &t.replace("        1", "        2"))[0].function,
            "T::fn go"
        );
        let c = "pub fn f() -> u32 {\n    let g = |x: u32| {\n        x + 1\n    };\n    g(1)\n}\n";
        assert_eq!(bodies_of(c, &c.replace("x + 1", "x + 2"))[0].old_lines, [3, 3]);
    }

    #[test]
    fn a_tables_value_is_placed_by_its_readers() {
        let t =
            "pub fn f(i: usize) -> u8 {\n    TABLE[i]\n}\n\npub static TABLE: [u8; 4] = [\n    1, 2,\n    3, 4,\n];\n";
        let Attribution::Code {
            bodies, docs, values, ..
        } = attribute(t, &t.replace("3, 4", "3, 5"))
        else {
            panic!("placed by its readers")
        };
        assert!(bodies.is_empty() && docs.is_empty());
        assert_eq!(
            values,
            vec![ValueEdit {
                name: "TABLE".into(),
                why: "`static TABLE` (lines 5–8) changed: evaluated at compile time".into(),
                public: true,
                added: false,
            }]
        );
        // Its name, attributes or visibility are not its value.
        assert!(why(t, &t.replace("pub static TABLE", "static TABLE")).contains("`static TABLE`"));
        assert!(why(t, &t.replace("pub static", "#[used]\npub static")).contains("`static TABLE`"));

        // Where it is read: the bodies that name it, under its own name.
        let uses = "use crate::t::{TABLE, other};\n\npub fn g() -> u8 {\n    let x = 1;\n    TABLE[x]\n}\n";
        assert_eq!(value_readers(uses, "TABLE", false), Ok(vec![[3, 6]]));
        assert_eq!(value_readers(t, "TABLE", false), Ok(vec![[1, 3]]));
        // A test module's own import of it (ripgrep's `DEFAULT_TYPES`).
        let tests = format!("{t}\n#[cfg(test)]\nmod tests {{\n    use super::TABLE;\n\n    #[test]\n    fn sorted() {{\n        assert!(TABLE.is_sorted());\n    }}\n}}\n");
        assert_eq!(value_readers(&tests, "TABLE", false), Ok(vec![[1, 3], [15, 17]]));
        assert_eq!(value_readers("pub fn h() {}\n", "TABLE", false), Ok(vec![]));
        // In a match pattern, a closure, a test: the whole body.
        let m = "fn k(b: u8) -> bool {\n    match b {\n        LIMIT => true,\n        _ => false,\n    }\n}\n";
        assert_eq!(value_readers(m, "LIMIT", false), Ok(vec![[1, 6]]));
        for outside in [
            "use crate::t::TABLE as T;\nfn g() -> u8 {\n    T[0]\n}\n",
            "const FIRST: u8 = TABLE[0];\n",
            "fn g() -> [u8; TABLE.len()] {\n    todo!()\n}\n",
            "macro_rules! m {\n    () => { TABLE[0] };\n}\n",
            "const fn g() -> u8 {\n    TABLE[0]\n}\n",
            "fn g() -> u8 {\n    const { TABLE[0] }\n}\n",
        ] {
            assert!(value_readers(outside, "TABLE", false).is_err(), "{outside}");
        }
        let e = value_readers("const FIRST: u8 = TABLE[0];\n", "TABLE", false).unwrap_err();
        assert_eq!(
            e,
            "line 1: `const FIRST` (line 1) names `TABLE` outside a function body"
        );
        // A doc comment may hold a doctest that reads a `pub` value.
        let doc = "/// ```\n/// assert_eq!(t::TABLE[0], 1);\n/// ```\npub fn f() {}\n";
        assert!(value_readers(doc, "TABLE", true).unwrap_err().contains("doctest"));
        assert_eq!(value_readers(doc, "TABLE", false), Ok(vec![]));
    }

    #[test]
    fn a_private_import_no_path_names_changes_only_method_calls_of_its_module() {
        let t = "use bstr::{ByteSlice, ByteVec};\n\npub fn f(p: &[u8]) -> usize {\n    p.find_byte(b'/').unwrap_or(0)\n}\n\n#[cfg(test)]\nmod tests {\n    use super::{f};\n\n    #[test]\n    fn t() {\n        assert_eq!(f(b\"a/b\"), 1);\n    }\n}\n";
        let whole_file = vec![BodyEdit {
            function: "the module's imports".into(),
            old_lines: [1, 15],
        }];
        // A trait no path names, let go: the file's bodies.
        assert_eq!(
            bodies_of(t, &t.replace("{ByteSlice, ByteVec}", "ByteSlice")),
            whole_file
        );
        // A name brought into the test module that it did not name before: that module.
        let more = t.replace("use super::{f};", "use super::{f, g};");
        assert_eq!(bodies_of(t, &more)[0].old_lines, [8, 15]);
        // Let go of a name still named: a path may resolve elsewhere.
        let named = t.replace("p.find_byte(b'/')", "ByteVec::find_byte(p, b'/')");
        assert!(why(&named, &named.replace("{ByteSlice, ByteVec}", "ByteSlice")).contains("use"));
        // Public, a glob, or a module of another file: the static tier.
        let public = t.replace("use bstr::{", "pub use bstr::{");
        assert!(why(&public, &public.replace("{ByteSlice, ByteVec}", "ByteSlice")).contains("use"));
        assert!(why(t, &t.replace("{ByteSlice, ByteVec}", "*")).contains("use"));
        // A macro's fragment of that name is no path.
        let fragment = t.replace(
            "    #[test]\n    fn t()",
            "    macro_rules! m {\n        ($g:expr) => {};\n    }\n\n    #[test]\n    fn t()",
        );
        assert_eq!(
            bodies_of(&fragment, &fragment.replace("use super::{f};", "use super::{f, g};"))[0].function,
            "the module's imports"
        );
        let child = format!("mod other;\n{t}");
        assert!(why(&child, &child.replace("{ByteSlice, ByteVec}", "ByteSlice")).contains("use"));
    }

    #[test]
    fn a_new_import_before_the_first_brings_none_of_its_names_in_or_out() {
        let t = "use std::ffi::OsString;\n\npub fn f() -> OsString {\n    OsString::new()\n}\n";
        let new =
            format!("use std::collections::HashMap;\n{t}\npub fn g() -> HashMap<u8, u8> {{\n    HashMap::new()\n}}\n");
        // `g` is new and named nowhere; `HashMap` only it names.
        assert_eq!(bodies_of(t, &new)[0].function, "the module's imports");
    }

    #[test]
    fn an_edit_inside_an_unnamed_const_is_compile_time() {
        // `const _` hides its items' names, not their impls: nothing reads
        // it by name, and every use of the trait sees what it holds.
        let t = "pub struct S;\n\nconst _: () = {\n    impl Default for S {\n        fn default() -> Self {\n            S\n        }\n    }\n};\n\npub fn f() -> S {\n    S::default()\n}\n";
        let edited = t.replace("            S\n", "            { S }\n");
        assert_eq!(
            why(t, &edited),
            "`const _` (lines 3–9) changed: evaluated at compile time"
        );
        // So does a named one whose initializer holds an item.
        let named = t.replace("const _: ()", "const UNIT: ()");
        assert!(why(&named, &named.replace("            S\n", "            { S }\n")).contains("`const UNIT`"));
        // A plain value is its readers' to answer.
        let plain = "const N: u32 = 1;\n\npub fn f() -> u32 {\n    N\n}\n";
        let Attribution::Code { values, .. } = attribute(plain, &plain.replace("= 1", "= 2")) else {
            panic!("a value edit")
        };
        assert_eq!(values[0].name, "N");
    }

    #[test]
    fn a_test_macros_calls_are_its_tests() {
        let t = "macro_rules! case {\n    ($name:ident, $fun:expr) => {\n        #[test]\n        fn $name() {\n            $fun();\n        }\n    };\n}\n\ncase!(one, || {\n    assert!(true);\n});\n";
        assert_eq!(defines_one_test(t, "case"), Some(true));
        assert_eq!(defines_one_test(t, "other"), None);
        // Two items, a helper beside the test, or no `#[test]`: not one test.
        let two = t.replace(
            "        fn $name() {",
            "        fn helper() {}\n        #[test]\n        fn $name() {",
        );
        assert_eq!(defines_one_test(&two, "case"), Some(false));
        assert_eq!(
            defines_one_test(&t.replace("#[test]", "#[inline]"), "case"),
            Some(false)
        );
        // An edit inside a call, past its name: that call's lines.
        let Attribution::Code { bodies, calls, .. } = attribute(t, &t.replace("assert!(true)", "assert!(false)"))
        else {
            panic!("a call")
        };
        assert!(bodies.is_empty());
        assert_eq!(
            calls,
            vec![CallEdit {
                macro_name: "case".into(),
                why: "`case!` (lines 10–12) changed: an item-level macro call (it expands to items)".into(),
                old_lines: Some([11, 11]),
            }]
        );
        // A new call, whole, with a new name.
        let added = format!("{t}\ncase!(two, || {{}});\n");
        let Attribution::Code { calls, .. } = attribute(t, &added) else {
            panic!("a new call")
        };
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].old_lines, None);
        // In a test module: a new macro there, and calls of it.
        let module = "pub fn f() -> u32 {\n    1\n}\n\n#[cfg(test)]\nmod tests {\n    use super::f;\n\n    #[test]\n    fn one() {\n        assert_eq!(f(), 1);\n    }\n}\n";
        let with = module.replace(
            "    #[test]\n    fn one()",
            "    macro_rules! same {\n        ($name:ident) => {\n            #[test]\n            fn $name() {\n                assert_eq!(f(), 1);\n            }\n        };\n    }\n\n    same!(again);\n\n    #[test]\n    fn one()",
        );
        let Attribution::Code { bodies, calls, .. } = attribute(module, &with) else {
            panic!("a new macro and its call")
        };
        assert!(bodies.is_empty());
        assert_eq!(
            calls
                .iter()
                .map(|c| (c.macro_name.as_str(), c.old_lines))
                .collect::<Vec<_>>(),
            [("same", None)]
        );
        // At the file's level (it may reach other modules), or exported: the static tier.
        let top = format!("macro_rules! same {{\n    () => {{}};\n}}\n{module}");
        assert!(why(module, &top).contains("macro_rules! same"));
        // Its name changed, or a call that takes no name: the static tier.
        assert!(why(t, &t.replace("case!(one", "case!(uno")).contains("`case!`"));
        let noname = t.replace("case!(one, ", "case!(");
        assert!(why(&noname, &noname.replace("assert!(true)", "assert!(false)")).contains("`case!`"));
    }

    #[test]
    fn includes_are_placed_where_they_sit() {
        let text = "static ENCODINGS: &str = include_str!(\"encodings.sh\");\n\npub fn zsh() -> String {\n    include_str!(\"rg.zsh\").replace(\"!E\", ENCODINGS)\n}\n\n#[doc = include_str!(\"../README.md\")]\npub struct S;\n";
        let got = includes(text).unwrap();
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(
            got[0],
            (
                "encodings.sh".to_owned(),
                IncludePlace::Value {
                    name: "ENCODINGS".into(),
                    public: false
                }
            )
        );
        assert_eq!(got[1], ("rg.zsh".to_owned(), IncludePlace::Body([3, 5])));
        assert!(
            matches!(&got[2], (p, IncludePlace::Elsewhere(why)) if p == "../README.md" && why.contains("`struct S`")),
            "{got:?}"
        );
        assert!(includes("const X: &str = include_str!(concat!(\"a\", \"b\"));\n").is_err());
        assert_eq!(includes("pub fn f() {}\n"), Ok(vec![]));
    }

    #[test]
    fn items_and_cfg_nested_in_a_body_are_compile_time() {
        let n = "pub fn f() -> u32 {\n    const K: u32 = 1;\n    K\n}\n";
        let got = why(n, &n.replace("= 1", "= 2"));
        assert!(got.contains("inside `fn f`"), "{got}");
        let b = "pub fn f() -> u32 {\n    let k = const { 1 + 1 };\n    k\n}\n";
        assert!(why(b, &b.replace("1 + 1", "1 + 2")).contains("`const` block"));
        // A `cfg` attribute in a body: what it leaves in or out is the
        // body's, placed as an edit of all of it.
        let cfg = "pub fn f() -> u32 {\n    let x = 1;\n    #[cfg(unix)]\n    return x;\n    2\n}\n\npub fn g() {}\n";
        let whole = vec![BodyEdit {
            function: "fn f".into(),
            old_lines: [1, 6],
        }];
        assert_eq!(bodies_of(cfg, &cfg.replace("cfg(unix)", "cfg(windows)")), whole);
        assert_eq!(bodies_of(cfg, &cfg.replace("    #[cfg(unix)]\n", "")), whole);
        let added = cfg.replace("    2\n", "    #[cfg(test)]\n    println!(\"x\");\n    2\n");
        assert_eq!(bodies_of(cfg, &added), whole);
        // An edit beside it, not touching it: its own lines.
        assert_eq!(
            bodies_of(cfg, &cfg.replace("let x = 1", "let x = 3"))[0].old_lines,
            [2, 2]
        );
    }

    #[test]
    fn a_doc_comment_names_the_item_it_documents() {
        let d = "pub struct Money(u32);\nimpl Money {\n    /// Adds.\n    pub fn add(&self) -> u32 {\n        self.0\n    }\n}\n";
        let Attribution::Code { bodies, docs, .. } = attribute(d, &d.replace("Adds.", "Adds up.")) else {
            panic!("code")
        };
        assert!(bodies.is_empty());
        assert_eq!(docs[0].item, "Money::add");
        // clap's derive turns docs into help text: an attribute change.
        let c = "/// The tool.\n#[derive(Parser)]\npub struct Cli {\n    /// Verbose.\n    v: bool,\n}\n";
        assert!(why(c, &c.replace("Verbose.", "Loud.")).starts_with("`struct Cli`"));
    }

    #[test]
    fn items_the_chunking_cannot_split_are_read_with_the_whole_file() {
        // A `use` with braces, a `const` with a block, a generic default (an
        // `=` outside any group), an inner attribute: the body edit is
        // placed the same.
        let text = "#![allow(dead_code)]\nuse std::{fmt, io};\nconst K: u32 = { 1 + 1 };\npub struct S<T = u8> {\n    x: T,\n}\npub fn f() -> u32 {\n    K + 1\n}\n";
        let got = bodies_of(text, &text.replace("K + 1", "K + 2"));
        assert_eq!(
            got,
            vec![BodyEdit {
                function: "fn f".into(),
                old_lines: [8, 8]
            }]
        );
        assert!(value_why(text, &text.replace("1 + 1", "1 + 3")).starts_with("`const K` (line 3)"));
        assert!(why(text, &text.replace("x: T", "x: Option<T>")).starts_with("`struct S` (lines 4–6)"));
        assert!(why(text, &text.replace("allow(dead_code)", "deny(dead_code)")).contains("outside every item"));
    }

    #[test]
    fn a_file_that_does_not_parse_says_where() {
        let got = why(LIB, &LIB.replace("n * 10", "n * "));
        assert!(got.contains("does not parse") && got.contains("line"), "{got}");
    }
}
