//! What a change to a Rust file touches, by its syntax. The old and the new
//! text are lexed into tokens (comments and layout are not tokens; doc
//! comments are, as `#[doc]` attributes), the two token lists are diffed,
//! and each hunk is placed in its innermost syntactic container with a real
//! parser (syn). Only a hunk wholly inside the body of a non-`const`
//! function, outside any item or `const` block nested there, can be
//! answered by the coverage maps: everything else (a `static` table, a
//! field's type, a `where` clause, a macro arm…) runs or is checked at
//! compile time, where no test's map reaches. Pure: text in, placements out.

use proc_macro2::{Delimiter, LineColumn, Spacing, TokenStream, TokenTree};
use syn::spanned::Spanned;
use syn::visit::Visit;

/// What the change between two texts of one file is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attribution {
    /// No token changed: only comments and layout.
    Layout,
    /// Every hunk lies in function bodies or doc comments.
    Code {
        /// The changed code, as lines of the old text, by function.
        bodies: Vec<BodyEdit>,
        /// Doc comments changed where nothing but rustdoc reads them.
        docs: Vec<DocEdit>,
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

/// A doc comment changed on one item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocEdit {
    /// The item's path as rustdoc names its examples (`Money::add`); empty
    /// for the crate's or module's own docs (`//!`).
    pub item: String,
    /// The item's lines in the new text.
    pub lines: [u32; 2],
}

/// A position in a text: 1-based line, 0-based column (in chars).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Pos {
    line: u32,
    col: u32,
}

impl From<LineColumn> for Pos {
    fn from(lc: LineColumn) -> Self {
        Pos {
            line: lc.line as u32,
            col: lc.column as u32,
        }
    }
}

/// One token: a hash of its text (what the diff compares), its span (read
/// into a position only where a hunk needs it: that lookup is the costly
/// part of lexing), and whether it belongs to a doc comment.
#[derive(Clone, Debug)]
struct Tok {
    hash: u64,
    span: proc_macro2::Span,
    /// Part of a `#[doc]` attribute (a doc comment).
    doc: bool,
}

impl Tok {
    fn start(&self) -> Pos {
        self.span.start().into()
    }
    fn end(&self) -> Pos {
        self.span.end().into()
    }
}

/// FNV-1a over what a token writes of itself: no string is built.
struct TokenHash(u64);

impl std::fmt::Write for TokenHash {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        for b in s.bytes() {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        Ok(())
    }
}

fn hash_of(t: impl std::fmt::Display) -> u64 {
    use std::fmt::Write;
    let mut h = TokenHash(0xcbf2_9ce4_8422_2325);
    let _ = write!(h, "{t}");
    h.0
}

/// A text lexed: its tokens, and its top-level token trees grouped into
/// items (the stretch of tokens each spans), so that only the items a hunk
/// touches are parsed.
struct Side {
    toks: Vec<Tok>,
    chunks: Vec<Chunk>,
    stream: TokenStream,
}

struct Chunk {
    /// Flattened tokens `[from, to)`.
    from: usize,
    to: usize,
    trees: Vec<TokenTree>,
    /// `#![…]`: an attribute of the file's module, not an item.
    inner_attribute: bool,
}

/// A stretch of text: from `start` to `end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Extent {
    start: Pos,
    end: Pos,
}

impl Extent {
    fn within(&self, outer: Extent) -> bool {
        outer.start <= self.start && self.end <= outer.end
    }
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
        (Ok(a), Ok(b)) => (side(a), side(b)),
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
    let old_items = match parse_touched(&old_side, hunks.iter().map(|h| h.old)) {
        Ok(items) => items,
        Err(e) => return Attribution::Static(format!("the text it had does not parse ({e})")),
    };
    let new_items = match parse_touched(&new_side, hunks.iter().map(|h| h.new)) {
        Ok(items) => items,
        Err(e) => return Attribution::Static(format!("it does not parse ({e})")),
    };
    let (old_file, new_file) = (&old_items, &new_items);
    // Functions and inherent methods the change only adds, named nowhere
    // in the old text: no existing test can reach them (the tests that
    // call them are new, or call them from an edited body). They are taken
    // out of the new text before the rest is placed.
    let added = added_functions(a, new_file);
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
    let mut named = None;
    let mut fn_zones = None;
    for h in hunks {
        let old_x = extent(a, h.old.0, h.old.1);
        let new_x = extent(b, h.new.0, h.new.1);
        let in_old = body_of(&old_bodies, old_x);
        let in_new = body_of(&new_bodies, new_x);
        if let (Some(o), Some(n)) = (in_old, in_new) {
            if o.name == n.name {
                out_bodies.push(BodyEdit {
                    function: o.name.clone(),
                    old_lines: [old_x.start.line, old_x.end.line.max(old_x.start.line)],
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
    }
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
    let at = |p: Pos| (p.line, p.col);
    let trees: Vec<TokenTree> = side.stream.clone().into_iter().collect();
    trees.windows(3).any(|w| {
        let TokenTree::Group(g) = &w[2] else { return false };
        let (start, end) = (at(g.span().start().into()), at(g.span().end().into()));
        matches!((&w[0], &w[1]), (TokenTree::Punct(a), TokenTree::Punct(b)) if a.as_char() == '#' && b.as_char() == '!')
            && start <= at(x.start)
            && at(x.end) <= end
            && (page_attribute(w) || lenient_lints(w))
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

fn lex(text: &str) -> Result<TokenStream, String> {
    // As rustc: a byte-order mark and a shebang line are not tokens (the
    // shebang is blanked, so that lines keep their numbers).
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let owned;
    let text = if text.starts_with("#!") && !text.starts_with("#![") {
        let end = text.find('\n').unwrap_or(text.len());
        owned = format!("{}{}", " ".repeat(end), &text[end..]);
        owned.as_str()
    } else {
        text
    };
    text.parse::<TokenStream>().map_err(|e| {
        let at = e.span().start();
        format!("line {}: {e}", at.line)
    })
}

/// The text's tokens and its items.
fn side(stream: TokenStream) -> Side {
    let mut toks = Vec::new();
    let mut chunks: Vec<Chunk> = Vec::new();
    let trees: Vec<TokenTree> = stream.clone().into_iter().collect();
    let mut i = 0;
    let mut chunk = Chunk {
        from: 0,
        to: 0,
        trees: Vec::new(),
        inner_attribute: false,
    };
    while i < trees.len() {
        let n = doc_attribute_len(&trees, i);
        let inner = matches!((&trees[i], trees.get(i + 1), trees.get(i + 2)),
            (TokenTree::Punct(p), Some(TokenTree::Punct(b)), Some(TokenTree::Group(g)))
                if p.as_char() == '#' && b.as_char() == '!' && g.delimiter() == Delimiter::Bracket);
        if inner && chunk.trees.is_empty() {
            // `#![…]` stands alone.
            for tree in &trees[i..i + 3] {
                push_tree(tree, n > 1, &mut toks);
            }
            chunks.push(Chunk {
                from: chunk.from,
                to: toks.len(),
                trees: trees[i..i + 3].to_vec(),
                inner_attribute: true,
            });
            chunk.from = toks.len();
            i += 3;
            continue;
        }
        for tree in &trees[i..i + n] {
            push_tree(tree, n > 1, &mut toks);
            chunk.trees.push(tree.clone());
        }
        i += n;
        if item_ends(&chunk.trees, trees.get(i)) {
            chunk.to = toks.len();
            let from = toks.len();
            chunks.push(std::mem::replace(
                &mut chunk,
                Chunk {
                    from,
                    to: from,
                    trees: Vec::new(),
                    inner_attribute: false,
                },
            ));
        }
    }
    if !chunk.trees.is_empty() {
        chunk.to = toks.len();
        chunks.push(chunk);
    }
    Side { toks, chunks, stream }
}

/// Whether the top-level trees so far make an item: one ends at a `;`,
/// or at a `{ … }` not followed by `;` where no `=` came first (a
/// `const`'s block initializer goes on to its `;`). A guess only: a chunk
/// that does not parse alone makes the whole file parsed.
fn item_ends(trees: &[TokenTree], next: Option<&TokenTree>) -> bool {
    match trees.last() {
        Some(TokenTree::Punct(p)) => p.as_char() == ';',
        Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Brace => {
            let semi_next = matches!(next, Some(TokenTree::Punct(p)) if p.as_char() == ';');
            let assigns = trees
                .iter()
                .any(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == '=' && p.spacing() == Spacing::Alone));
            !semi_next && !assigns
        }
        _ => false,
    }
}

/// The items that token runs `[from, to)` touch, parsed: each alone where
/// it parses so, else the whole file.
fn parse_touched(side: &Side, runs: impl Iterator<Item = (usize, usize)>) -> Result<Vec<syn::Item>, String> {
    let mut touched: Vec<usize> = Vec::new();
    for (from, to) in runs {
        // An empty run touches the items either side of it.
        let (lo, hi) = if to > from {
            (from, to)
        } else {
            (from.saturating_sub(1), from + 1)
        };
        for (i, c) in side.chunks.iter().enumerate() {
            if c.from < hi && lo < c.to && !touched.contains(&i) {
                touched.push(i);
            }
        }
    }
    touched.sort_unstable();
    let mut items = Vec::new();
    for i in touched {
        let c = &side.chunks[i];
        if c.inner_attribute {
            continue;
        }
        match syn::parse2::<syn::Item>(c.trees.iter().cloned().collect()) {
            Ok(item) => items.push(item),
            Err(_) => {
                return syn::parse2::<syn::File>(side.stream.clone())
                    .map(|f| f.items)
                    .map_err(|e| parse_error(&e))
            }
        }
    }
    Ok(items)
}

/// How many trees from `i` make one unit for doc marking: 2 or 3 for a
/// doc attribute (`#` `!`? `[doc …]`), else 1.
fn doc_attribute_len(trees: &[TokenTree], i: usize) -> usize {
    match (&trees[i], trees.get(i + 1), trees.get(i + 2)) {
        (TokenTree::Punct(p), Some(TokenTree::Punct(bang)), Some(TokenTree::Group(g)))
            if p.as_char() == '#' && bang.as_char() == '!' && is_doc(g) =>
        {
            3
        }
        (TokenTree::Punct(p), Some(TokenTree::Group(g)), _) if p.as_char() == '#' && is_doc(g) => 2,
        _ => 1,
    }
}

fn push_stream(ts: TokenStream, doc: bool, out: &mut Vec<Tok>) {
    let trees: Vec<TokenTree> = ts.into_iter().collect();
    let mut i = 0;
    while i < trees.len() {
        let n = doc_attribute_len(&trees, i);
        for tree in &trees[i..i + n] {
            push_tree(tree, doc || n > 1, out);
        }
        i += n;
    }
}

fn is_doc(g: &proc_macro2::Group) -> bool {
    g.delimiter() == Delimiter::Bracket
        && matches!(g.stream().into_iter().next(), Some(TokenTree::Ident(i)) if i == "doc")
}

fn push_tree(tree: &TokenTree, doc: bool, out: &mut Vec<Tok>) {
    let mut tok = |hash: u64, span: proc_macro2::Span| out.push(Tok { hash, span, doc });
    match tree {
        TokenTree::Ident(i) => tok(hash_of(i), i.span()),
        TokenTree::Literal(l) => tok(hash_of(l), l.span()),
        TokenTree::Punct(p) => {
            let joint = if p.spacing() == Spacing::Joint { "+" } else { "" };
            tok(hash_of(format_args!("{}{joint}", p.as_char())), p.span())
        }
        TokenTree::Group(g) => {
            let (open, close) = delimiters(g.delimiter());
            if !open.is_empty() {
                tok(hash_of(open), g.span_open());
            }
            push_stream(g.stream(), doc, out);
            if !close.is_empty() {
                out.push(Tok {
                    hash: hash_of(close),
                    span: g.span_close(),
                    doc,
                });
            }
        }
    }
}

fn delimiters(d: Delimiter) -> (&'static str, &'static str) {
    match d {
        Delimiter::Parenthesis => ("(", ")"),
        Delimiter::Brace => ("{", "}"),
        Delimiter::Bracket => ("[", "]"),
        Delimiter::None => ("", ""),
    }
}

/// A run of changed tokens: old `[from, to)` became new `[from, to)`.
struct Hunk {
    old: (usize, usize),
    new: (usize, usize),
}

fn token_hunks(a: &[Tok], b: &[Tok]) -> Vec<Hunk> {
    let x: Vec<u64> = a.iter().map(|t| t.hash).collect();
    let y: Vec<u64> = b.iter().map(|t| t.hash).collect();
    if x == y {
        return Vec::new();
    }
    let mut out: Vec<Hunk> = Vec::new();
    let mut open = false;
    for op in similar::capture_diff_slices(similar::Algorithm::Myers, &x, &y) {
        let (tag, o, n) = op.as_tag_tuple();
        if tag == similar::DiffTag::Equal {
            open = false;
            continue;
        }
        match out.last_mut() {
            Some(h) if open => {
                h.old.1 = o.end;
                h.new.1 = n.end;
            }
            _ => out.push(Hunk {
                old: (o.start, o.end),
                new: (n.start, n.end),
            }),
        }
        open = true;
    }
    out
}

/// The text that tokens `[from, to)` span; an empty run is the gap between
/// its neighbours.
fn extent(toks: &[Tok], from: usize, to: usize) -> Extent {
    if to > from {
        return Extent {
            start: toks[from].start(),
            end: toks[to - 1].end(),
        };
    }
    let start = from.checked_sub(1).map_or(Pos { line: 1, col: 0 }, |i| toks[i].end());
    let end = toks.get(from).map_or(
        Pos {
            line: start.line.max(toks.last().map_or(1, |t| t.end().line)),
            col: u32::MAX,
        },
        Tok::start,
    );
    Extent { start, end }
}

/// The body of a non-`const` function: what lies between its braces, less
/// the items, `const` blocks and `cfg` attributes nested in it.
#[derive(Debug)]
struct Body {
    name: String,
    inside: Extent,
    nested: Vec<Extent>,
}

fn body_of(bodies: &[Body], x: Extent) -> Option<&Body> {
    bodies
        .iter()
        .find(|b| x.within(b.inside) && !b.nested.iter().any(|n| overlaps(*n, x)))
}

fn overlaps(a: Extent, b: Extent) -> bool {
    a.start < b.end && b.start < a.end
}

fn bodies(items: &[syn::Item]) -> Vec<Body> {
    let mut out = Vec::new();
    walk_bodies(items, "", &mut out);
    out
}

fn walk_bodies(items: &[syn::Item], prefix: &str, out: &mut Vec<Body>) {
    for item in items {
        match item {
            syn::Item::Fn(f) => push_body(&f.sig, &f.block, prefix, out),
            syn::Item::Impl(i) => {
                let at = format!("{prefix}{}::", impl_name(i));
                for it in &i.items {
                    if let syn::ImplItem::Fn(f) = it {
                        push_body(&f.sig, &f.block, &at, out);
                    }
                }
            }
            syn::Item::Trait(t) => {
                let at = format!("{prefix}{}::", t.ident);
                for it in &t.items {
                    if let syn::TraitItem::Fn(syn::TraitItemFn {
                        sig, default: Some(b), ..
                    }) = it
                    {
                        push_body(sig, b, &at, out);
                    }
                }
            }
            syn::Item::Mod(m) => {
                if let Some((_, inner)) = &m.content {
                    walk_bodies(inner, &format!("{prefix}{}::", m.ident), out);
                }
            }
            _ => {}
        }
    }
}

fn push_body(sig: &syn::Signature, block: &syn::Block, prefix: &str, out: &mut Vec<Body>) {
    if sig.constness.is_some() {
        return;
    }
    let braces = &block.brace_token.span;
    let mut nested = Vec::new();
    nested_items(block, "", 0, &mut nested);
    out.push(Body {
        name: format!("{prefix}fn {}", sig.ident),
        inside: Extent {
            start: braces.open().end().into(),
            end: braces.close().start().into(),
        },
        nested: nested.into_iter().map(|i| i.extent).collect(),
    });
}

fn impl_name(i: &syn::ItemImpl) -> String {
    let ty = tokens(&i.self_ty);
    match &i.trait_ {
        Some((_, path, _)) => format!("<{ty} as {}>", tokens(path)),
        None => ty,
    }
}

/// A type's or path's text without `quote`'s spacing (`Vec<u8>`, not
/// `Vec < u8 >`).
fn tokens<T: quote::ToTokens>(t: &T) -> String {
    let mut s = String::new();
    for tree in t.to_token_stream() {
        append_text(&mut s, &tree);
    }
    s
}

fn append_text(s: &mut String, t: &TokenTree) {
    match t {
        TokenTree::Group(g) => {
            let (o, c) = delimiters(g.delimiter());
            s.push_str(o);
            for t in g.stream() {
                append_text(s, &t);
            }
            s.push_str(c);
        }
        TokenTree::Ident(i) => {
            if s.ends_with(|c: char| c.is_alphanumeric() || c == '_') {
                s.push(' ');
            }
            s.push_str(&i.to_string());
        }
        TokenTree::Punct(p) if p.as_char() == ',' => s.push_str(", "),
        TokenTree::Punct(p) => s.push(p.as_char()),
        TokenTree::Literal(l) => s.push_str(&l.to_string()),
    }
}

/// The extents (attributes and doc comments included) of the functions and
/// inherent methods of `items` whose names no token of the old text
/// carries, and that nothing can reach without naming them: no exported
/// symbol (`no_mangle`, `export_name`, `link_section`, `used`), no
/// attribute macro other than the test harnesses', not in a trait impl,
/// not a name the prelude gives (`drop`), which the new item would shadow.
fn added_functions(old: &[Tok], items: &[syn::Item]) -> Vec<Extent> {
    let old_names: std::collections::HashSet<u64> = old.iter().map(|t| t.hash).collect();
    let mut out = Vec::new();
    added_in(&old_names, items, &mut out);
    out
}

fn added_in(old_names: &std::collections::HashSet<u64>, items: &[syn::Item], out: &mut Vec<Extent>) {
    let fresh = |attrs: &[syn::Attribute], vis: &syn::Visibility, sig: &syn::Signature, block: &syn::Block| {
        let name = sig.ident.to_string();
        let named = old_names.contains(&hash_of(&sig.ident)) || name == "drop";
        (!named && attrs.iter().all(harmless_on_new)).then(|| Extent {
            start: item_start(attrs, vis, sig),
            end: block.brace_token.span.close().end().into(),
        })
    };
    for item in items {
        match item {
            syn::Item::Fn(f) => out.extend(fresh(&f.attrs, &f.vis, &f.sig, &f.block)),
            syn::Item::Impl(i) if i.trait_.is_none() => {
                for it in &i.items {
                    if let syn::ImplItem::Fn(f) = it {
                        out.extend(fresh(&f.attrs, &f.vis, &f.sig, &f.block));
                    }
                }
            }
            syn::Item::Mod(m) => {
                if let Some((_, inner)) = &m.content {
                    added_in(old_names, inner, out);
                }
            }
            _ => {}
        }
    }
}

/// Where a function item starts: its first attribute (doc comments
/// included), else `pub`, `async`, `unsafe`, `extern` or `fn`.
fn item_start(attrs: &[syn::Attribute], vis: &syn::Visibility, sig: &syn::Signature) -> Pos {
    if let Some(a) = attrs.first() {
        return a.pound_token.span.start().into();
    }
    [
        match vis {
            syn::Visibility::Public(p) => Some(p.span),
            syn::Visibility::Restricted(r) => Some(r.pub_token.span),
            syn::Visibility::Inherited => None,
        },
        sig.asyncness.as_ref().map(|t| t.span),
        sig.unsafety.as_ref().map(|t| t.span),
        sig.abi.as_ref().map(|a| a.extern_token.span),
        Some(sig.fn_token.span),
    ]
    .into_iter()
    .flatten()
    .map(|s| Pos::from(s.start()))
    .min()
    .unwrap_or_else(|| sig.fn_token.span.start().into())
}

/// Attributes a new function may carry and stay unreachable to existing
/// code: docs, the test harnesses', inlining and lint levels, `cfg`.
fn harmless_on_new(a: &syn::Attribute) -> bool {
    const PLAIN: &[&str] = &[
        "doc",
        "test",
        "ignore",
        "should_panic",
        "inline",
        "must_use",
        "cold",
        "track_caller",
        "deprecated",
        "allow",
        "warn",
        "deny",
        "forbid",
        "expect",
        "cfg",
    ];
    let segments: Vec<String> = a.path().segments.iter().map(|s| s.ident.to_string()).collect();
    match segments.as_slice() {
        [one] => PLAIN.contains(&one.as_str()),
        [tool, _] if tool == "rustfmt" || tool == "clippy" => true,
        [runtime, test] => test == "test" && ["tokio", "async_std"].contains(&runtime.as_str()),
        _ => false,
    }
}

/// Where a function's attributes are: from its first attribute to its
/// `fn` keyword, the attributes that change nothing a test can see, and
/// its body's lines.
struct FnZone {
    name: String,
    zone: Extent,
    inert: Vec<Extent>,
    body_lines: [u32; 2],
}

/// Attributes whose change no test can see: inlining, `must_use`, lint
/// levels, `cold`, formatter and linter tool attributes. (`track_caller`
/// moves panic locations, `cfg` and `derive` change what exists, `test`,
/// `ignore` and `should_panic` change a test: none of them is here.)
fn inert_attribute(a: &syn::Attribute) -> bool {
    const INERT: &[&str] = &[
        "inline", "must_use", "cold", "allow", "warn", "deny", "forbid", "expect",
    ];
    let path = a.path();
    if let Some(first) = path.segments.first() {
        let name = first.ident.to_string();
        if path.segments.len() > 1 {
            return name == "rustfmt" || name == "clippy";
        }
        return INERT.contains(&name.as_str());
    }
    false
}

fn zones(items: &[syn::Item]) -> Vec<FnZone> {
    let mut out = Vec::new();
    walk_zones(items, "", &mut out);
    out
}

fn walk_zones(items: &[syn::Item], prefix: &str, out: &mut Vec<FnZone>) {
    for item in items {
        match item {
            syn::Item::Fn(f) => push_zone(&f.attrs, &f.vis, &f.sig, &f.block, prefix, out),
            syn::Item::Impl(i) => {
                let at = format!("{prefix}{}::", impl_name(i));
                for it in &i.items {
                    if let syn::ImplItem::Fn(f) = it {
                        push_zone(&f.attrs, &f.vis, &f.sig, &f.block, &at, out);
                    }
                }
            }
            syn::Item::Mod(m) => {
                if let Some((_, inner)) = &m.content {
                    walk_zones(inner, &format!("{prefix}{}::", m.ident), out);
                }
            }
            _ => {}
        }
    }
}

fn push_zone(
    attrs: &[syn::Attribute],
    vis: &syn::Visibility,
    sig: &syn::Signature,
    block: &syn::Block,
    prefix: &str,
    out: &mut Vec<FnZone>,
) {
    if sig.constness.is_some() {
        return;
    }
    let extent_of = |a: &syn::Attribute| Extent {
        start: a.pound_token.span.start().into(),
        end: a.bracket_token.span.close().end().into(),
    };
    let fn_start: Pos = sig.fn_token.span.start().into();
    let start = item_start(attrs, vis, sig);
    let braces = &block.brace_token.span;
    out.push(FnZone {
        name: format!("{prefix}fn {}", sig.ident),
        zone: Extent { start, end: fn_start },
        inert: attrs.iter().filter(|a| inert_attribute(a)).map(extent_of).collect(),
        body_lines: [braces.open().start().line as u32, braces.close().start().line as u32],
    });
}

/// The function whose inert attributes alone a side of a hunk changed:
/// every changed token inside one of them, or (nothing on this side) the
/// point of the change inside the function's attributes.
fn inert_zone<'z>(zones: &'z [FnZone], toks: &[Tok], (from, to): (usize, usize)) -> Option<&'z FnZone> {
    if to > from {
        let changed: Vec<Extent> = toks[from..to]
            .iter()
            .map(|t| Extent {
                start: t.start(),
                end: t.end(),
            })
            .collect();
        return zones
            .iter()
            .find(|z| changed.iter().all(|x| z.inert.iter().any(|a| x.within(*a))));
    }
    // An insertion: before the token at `from`, which is the function's
    // `fn` (or what precedes it) or one of its attributes.
    let at = toks.get(from)?.start();
    zones.iter().find(|z| z.zone.start <= at && at <= z.zone.end)
}

/// A hunk that adds, removes or changes only inert attributes of one
/// function: placed like an edit of its whole body.
fn inert_attribute_edit(old: &[FnZone], new: &[FnZone], a: &[Tok], b: &[Tok], h: &Hunk) -> Option<BodyEdit> {
    let o = inert_zone(old, a, h.old)?;
    let n = inert_zone(new, b, h.new)?;
    // Both sides must have changed something inert (an empty hunk on both
    // is no change at all).
    if h.old.0 == h.old.1 && h.new.0 == h.new.1 {
        return None;
    }
    (o.name == n.name).then(|| BodyEdit {
        function: o.name.clone(),
        old_lines: o.body_lines,
    })
}

/// An item of the file, for naming what a hunk changed.
#[derive(Debug)]
struct Item {
    /// `static TABLE`, `struct Price`, `fn price`.
    name: String,
    /// Why a change in it is compiled in, not run.
    why: &'static str,
    /// rustdoc's path of the item (`Money::add`).
    path: String,
    extent: Extent,
    /// Whether a derive or attribute macro on it or its container can read
    /// its doc comments.
    docs_read: bool,
    depth: usize,
}

impl Item {
    fn describe(&self) -> String {
        format!(
            "`{}` ({}) changed: {}",
            self.name,
            shown_lines(self.extent.start.line, self.extent.end.line),
            self.why
        )
    }
}

fn shown_lines(a: u32, b: u32) -> String {
    if a >= b {
        format!("line {a}")
    } else {
        format!("lines {a}–{b}")
    }
}

fn innermost(items: &[Item], x: Extent) -> Option<&Item> {
    items.iter().filter(|i| x.within(i.extent)).max_by_key(|i| i.depth)
}

/// A hunk in doc comments alone names the item they document, unless a
/// macro on it or its container can read them (then it is an attribute
/// change like any other).
fn doc_edit(items: &[Item], x: Extent) -> Option<DocEdit> {
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

fn items(items: &[syn::Item]) -> Vec<Item> {
    let mut out = Vec::new();
    walk_items(items, "", false, 0, &mut out);
    out
}

/// Attributes that read nothing of an item's docs: the compiler's own.
fn reads_docs(attrs: &[syn::Attribute]) -> bool {
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

fn walk_items(items: &[syn::Item], prefix: &str, read: bool, depth: usize, out: &mut Vec<Item>) {
    for item in items {
        let extent = Extent {
            start: item.span().start().into(),
            end: item.span().end().into(),
        };
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
                    let extent = Extent {
                        start: it.span().start().into(),
                        end: it.span().end().into(),
                    };
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
                    let extent = Extent {
                        start: it.span().start().into(),
                        end: it.span().end().into(),
                    };
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

fn const_word(sig: &syn::Signature) -> &'static str {
    if sig.constness.is_some() {
        "const "
    } else {
        ""
    }
}

fn fn_why(sig: &syn::Signature) -> &'static str {
    if sig.constness.is_some() {
        "a `const fn` (evaluated at compile time where a const context calls it)"
    } else {
        "its signature or attributes (outside its body)"
    }
}

/// Items, `const` blocks and `cfg` attributes inside a function's body.
fn nested_items(block: &syn::Block, owner: &str, depth: usize, out: &mut Vec<Item>) {
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
                self.push(
                    "a `cfg` attribute".into(),
                    "conditional compilation (code it left out has no map)",
                    a.span(),
                );
            }
        }
    }
    Find { owner, depth, out }.visit_block(block);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bodies_of(old: &str, new: &str) -> Vec<BodyEdit> {
        match attribute(old, new) {
            Attribution::Code { bodies, docs } if docs.is_empty() => bodies,
            other => panic!("narrowed by bodies: {other:?}"),
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
                docs: Vec::new()
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
                docs: Vec::new()
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
    fn a_new_function_that_nothing_names_reaches_no_existing_test() {
        let none = |new: &str| {
            assert_eq!(
                attribute(LIB, new),
                Attribution::Code {
                    bodies: vec![],
                    docs: vec![]
                },
                "{new}"
            )
        };
        // Between two functions, at the end, with docs and attributes.
        none(&LIB.replace(
            "pub fn tax",
            "pub fn discount(n: u32) -> u32 {\n    n / 2\n}\n\npub fn tax",
        ));
        none(&format!(
            "{LIB}\n/// Half.\n#[inline]\nfn half(n: u32) -> u32 {{\n    n / 2\n}}\n"
        ));
        // A new test in the tests module.
        let tested = format!("{LIB}\n#[cfg(test)]\nmod tests {{\n    #[test]\n    fn a() {{}}\n}}\n");
        let more = tested.replace(
            "fn a() {}",
            "fn a() {}\n\n    #[test]\n    fn b() {\n        assert_eq!(super::tax(1), 3);\n    }",
        );
        assert_eq!(
            attribute(&tested, &more),
            Attribution::Code {
                bodies: vec![],
                docs: vec![]
            }
        );
        // An inherent method.
        let method = "pub struct M;\nimpl M {\n    pub fn get(&self) -> u32 {\n        1\n    }\n}\n";
        let two = method.replace(
            "impl M {\n",
            "impl M {\n    pub fn put(&self) -> u32 {\n        2\n    }\n\n",
        );
        assert_eq!(
            attribute(method, &two),
            Attribution::Code {
                bodies: vec![],
                docs: vec![]
            }
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
        assert_eq!(
            why(old, &new),
            "`static TABLE` (lines 1–4) changed: evaluated at compile time"
        );
    }

    #[test]
    fn a_const_array_line_is_compile_time() {
        let old = "pub const P: [u32; 3] = [\n    2,\n    3,\n    5,\n];\n";
        let new = old.replace("    3,", "    4,");
        assert!(why(old, &new).starts_with("`const P` (lines 1–5)"));
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
    fn items_and_cfg_nested_in_a_body_are_compile_time() {
        let n = "pub fn f() -> u32 {\n    const K: u32 = 1;\n    K\n}\n";
        let got = why(n, &n.replace("= 1", "= 2"));
        assert!(got.contains("inside `fn f`"), "{got}");
        let b = "pub fn f() -> u32 {\n    let k = const { 1 + 1 };\n    k\n}\n";
        assert!(why(b, &b.replace("1 + 1", "1 + 2")).contains("`const` block"));
        let cfg = "pub fn f() -> u32 {\n    #[cfg(unix)]\n    return 1;\n    2\n}\n";
        assert!(why(cfg, &cfg.replace("cfg(unix)", "cfg(windows)")).contains("`cfg`"));
    }

    #[test]
    fn a_doc_comment_names_the_item_it_documents() {
        let d = "pub struct Money(u32);\nimpl Money {\n    /// Adds.\n    pub fn add(&self) -> u32 {\n        self.0\n    }\n}\n";
        let Attribution::Code { bodies, docs } = attribute(d, &d.replace("Adds.", "Adds up.")) else {
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
        assert!(why(text, &text.replace("1 + 1", "1 + 3")).starts_with("`const K` (line 3)"));
        assert!(why(text, &text.replace("x: T", "x: Option<T>")).starts_with("`struct S` (lines 4–6)"));
        assert!(why(text, &text.replace("allow(dead_code)", "deny(dead_code)")).contains("outside every item"));
    }

    #[test]
    fn a_file_that_does_not_parse_says_where() {
        let got = why(LIB, &LIB.replace("n * 10", "n * "));
        assert!(got.contains("does not parse") && got.contains("line"), "{got}");
    }
}
