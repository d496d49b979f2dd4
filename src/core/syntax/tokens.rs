//! A text as tokens: lexed (proc-macro2, line spans), each token hashed
//! with its position, doc comments marked, split into top-level items, and
//! two token lists diffed into hunks.

use super::*;

/// A position in a text: 1-based line, 0-based column (in chars).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Pos {
    pub(super) line: u32,
    pub(super) col: u32,
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
pub(super) struct Tok {
    pub(super) hash: u64,
    pub(super) span: proc_macro2::Span,
    /// Part of a `#[doc]` attribute (a doc comment).
    pub(super) doc: bool,
}

impl Tok {
    pub(super) fn start(&self) -> Pos {
        self.span.start().into()
    }
    pub(super) fn end(&self) -> Pos {
        self.span.end().into()
    }
}

/// FNV-1a over what a token writes of itself: no string is built.
pub(super) struct TokenHash(pub(super) u64);

impl std::fmt::Write for TokenHash {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        for b in s.bytes() {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        Ok(())
    }
}

pub(super) fn hash_of(t: impl std::fmt::Display) -> u64 {
    use std::fmt::Write;
    let mut h = TokenHash(0xcbf2_9ce4_8422_2325);
    let _ = write!(h, "{t}");
    h.0
}

/// A text lexed: its tokens, and its top-level token trees grouped into
/// items (the stretch of tokens each spans), so that only the items a hunk
/// touches are parsed.
pub(super) struct Side {
    pub(super) toks: Vec<Tok>,
    pub(super) chunks: Vec<Chunk>,
    pub(super) stream: TokenStream,
}

pub(super) struct Chunk {
    /// Flattened tokens `[from, to)`.
    pub(super) from: usize,
    pub(super) to: usize,
    pub(super) trees: Vec<TokenTree>,
    /// `#![…]`: an attribute of the file's module, not an item.
    pub(super) inner_attribute: bool,
}

/// A stretch of text: from `start` to `end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Extent {
    pub(super) start: Pos,
    pub(super) end: Pos,
}

impl Extent {
    pub(super) fn within(&self, outer: Extent) -> bool {
        outer.start <= self.start && self.end <= outer.end
    }
}

pub(super) fn lex(text: &str) -> Result<TokenStream, String> {
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
pub(super) fn side(stream: TokenStream) -> Side {
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
pub(super) fn item_ends(trees: &[TokenTree], next: Option<&TokenTree>) -> bool {
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
pub(super) fn parse_touched(side: &Side, runs: impl Iterator<Item = (usize, usize)>) -> Result<Vec<syn::Item>, String> {
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
pub(super) fn doc_attribute_len(trees: &[TokenTree], i: usize) -> usize {
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

pub(super) fn push_stream(ts: TokenStream, doc: bool, out: &mut Vec<Tok>) {
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

pub(super) fn is_doc(g: &proc_macro2::Group) -> bool {
    g.delimiter() == Delimiter::Bracket
        && matches!(g.stream().into_iter().next(), Some(TokenTree::Ident(i)) if i == "doc")
}

pub(super) fn push_tree(tree: &TokenTree, doc: bool, out: &mut Vec<Tok>) {
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

pub(super) fn delimiters(d: Delimiter) -> (&'static str, &'static str) {
    match d {
        Delimiter::Parenthesis => ("(", ")"),
        Delimiter::Brace => ("{", "}"),
        Delimiter::Bracket => ("[", "]"),
        Delimiter::None => ("", ""),
    }
}

/// A run of changed tokens: old `[from, to)` became new `[from, to)`.
pub(super) struct Hunk {
    pub(super) old: (usize, usize),
    pub(super) new: (usize, usize),
}

pub(super) fn token_hunks(a: &[Tok], b: &[Tok]) -> Vec<Hunk> {
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
pub(super) fn extent(toks: &[Tok], from: usize, to: usize) -> Extent {
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

/// A type's or path's text without `quote`'s spacing (`Vec<u8>`, not
/// `Vec < u8 >`).
pub(super) fn tokens<T: quote::ToTokens>(t: &T) -> String {
    let mut s = String::new();
    for tree in t.to_token_stream() {
        append_text(&mut s, &tree);
    }
    s
}

pub(super) fn append_text(s: &mut String, t: &TokenTree) {
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
