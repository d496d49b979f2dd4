//! A text as tokens: lexed (a lexer of Rust's tokens, comments and layout
//! dropped, doc comments kept as tokens), each token hashed with its
//! position, split into top-level items, and two token lists diffed into
//! hunks. Only the items a hunk touches go to the parser.

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

/// What a token is, as far as splitting a file into items needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Ident,
    Literal,
    Lifetime,
    /// A punctuation character; `true`: joined to the next one (`=` of
    /// `==`, `-` of `->`), as proc-macro2's spacing says.
    Punct(u8, bool),
    Open(u8),
    Close(u8),
    /// A doc comment (`///`, `/** */`; `true` for `//!`, `/*! */`).
    Doc(bool),
}

/// One token: a hash of its text (what the diff compares), where it is,
/// its bytes in the text, and whether it belongs to a doc comment or a
/// `#[doc]` attribute.
#[derive(Clone, Debug)]
pub(super) struct Tok {
    pub(super) hash: u64,
    pub(super) kind: Kind,
    pub(super) start: Pos,
    pub(super) end: Pos,
    pub(super) bytes: (u32, u32),
    pub(super) doc: bool,
}

impl Tok {
    pub(super) fn start(&self) -> Pos {
        self.start
    }
    pub(super) fn end(&self) -> Pos {
        self.end
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

/// FNV-1a over byte strings, as `hash_of` over their text.
fn hash_bytes(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in *part {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// A text lexed: its tokens, and its top-level items (the stretch of
/// tokens each spans), so that only the items a hunk touches are parsed.
pub(super) struct Side {
    /// The text lexed (a byte-order mark dropped, a shebang blanked).
    pub(super) text: String,
    pub(super) toks: Vec<Tok>,
    pub(super) chunks: Vec<Chunk>,
}

pub(super) struct Chunk {
    /// Tokens `[from, to)`.
    pub(super) from: usize,
    pub(super) to: usize,
    /// `#![…]` or `//!`: an attribute of the file's module, not an item.
    pub(super) inner_attribute: bool,
}

/// A stretch of text: from `start` to `end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Extent {
    pub(super) start: Pos,
    pub(super) end: Pos,
}

/// What a span covers. (A syn node's `span()` re-prints the node: take it
/// once per node, never once per hunk.)
pub(super) fn span_extent(span: proc_macro2::Span) -> Extent {
    Extent {
        start: span.start().into(),
        end: span.end().into(),
    }
}

impl Extent {
    pub(super) fn within(&self, outer: Extent) -> bool {
        outer.start <= self.start && self.end <= outer.end
    }
}

/// The characters proc-macro2 joins a punctuation character to.
fn is_punct(b: u8) -> bool {
    b"~!@#$%^&*-=+|;:,<.>/?'".contains(&b)
}

fn ident_start(c: char) -> bool {
    c == '_' || unicode_ident::is_xid_start(c)
}

fn ident_continue(c: char) -> bool {
    unicode_ident::is_xid_continue(c)
}

/// Positions of byte offsets, asked in increasing order: lines and columns
/// (in chars) counted once over the text.
struct Cursor<'t> {
    b: &'t [u8],
    at: usize,
    pos: Pos,
}

impl Cursor<'_> {
    fn pos(&mut self, to: usize) -> Pos {
        while self.at < to {
            let c = self.b[self.at];
            if c == b'\n' {
                self.pos.line += 1;
                self.pos.col = 0;
            } else if c & 0xc0 != 0x80 {
                self.pos.col += 1;
            }
            self.at += 1;
        }
        self.pos
    }
}

/// A lexing error at a byte offset.
struct LexError(usize, &'static str);

/// Lexes `text` into a side: its tokens and its items.
pub(super) fn lex(text: &str) -> Result<Side, String> {
    // As rustc: a byte-order mark and a shebang line are not tokens (the
    // shebang is blanked, so that lines keep their numbers).
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let text = if text.starts_with("#!") && !text.starts_with("#![") {
        let end = text.find('\n').unwrap_or(text.len());
        format!("{}{}", " ".repeat(end), &text[end..])
    } else {
        text.to_owned()
    };
    let toks = match tokenize(&text) {
        Ok(toks) => toks,
        Err(LexError(at, why)) => {
            let line = text.as_bytes()[..at.min(text.len())]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1;
            return Err(format!("line {line}: {why}"));
        }
    };
    let chunks = chunks(&toks);
    Ok(Side { text, toks, chunks })
}

fn tokenize(text: &str) -> Result<Vec<Tok>, LexError> {
    let b = text.as_bytes();
    let mut out: Vec<Tok> = Vec::with_capacity(b.len() / 4);
    let mut cur = Cursor {
        b,
        at: 0,
        pos: Pos { line: 1, col: 0 },
    };
    let mut open: Vec<u8> = Vec::new();
    let char_at = |i: usize| text.get(i..).and_then(|s| s.chars().next()).unwrap_or('\0');
    // The end of a run of identifier characters from `i`.
    let ident_end = |mut i: usize| {
        while i < b.len() {
            let c = char_at(i);
            if !ident_continue(c) {
                break;
            }
            i += c.len_utf8();
        }
        i
    };
    // The end of a quoted literal whose opening quote is at `i`.
    let quoted = |i: usize, q: u8| -> Result<usize, LexError> {
        let mut j = i + 1;
        while j < b.len() {
            match b[j] {
                b'\\' => j += 2,
                c if c == q => return Ok(j + 1),
                _ => j += 1,
            }
        }
        Err(LexError(i, "unterminated literal"))
    };
    // The end of a raw string whose `#`s (or quote) start at `i`.
    let raw = |i: usize| -> Result<usize, LexError> {
        let hashes = b[i..].iter().take_while(|&&c| c == b'#').count();
        let q = i + hashes;
        if b.get(q) != Some(&b'"') {
            return Err(LexError(i, "malformed raw string"));
        }
        let mut j = q + 1;
        while j < b.len() {
            if b[j] == b'"' && b[j + 1..].iter().take(hashes).filter(|&&c| c == b'#').count() == hashes {
                return Ok(j + 1 + hashes);
            }
            j += 1;
        }
        Err(LexError(i, "unterminated raw string"))
    };
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        let kind;
        let mut hash = None;
        match c {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => {
                i += 1;
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                let end = b[i..].iter().position(|&x| x == b'\n').map_or(b.len(), |n| i + n);
                let body = &b[i..end];
                let outer = body.starts_with(b"///") && !body.starts_with(b"////");
                let inner = body.starts_with(b"//!");
                i = end;
                if !(outer || inner) {
                    continue;
                }
                kind = Kind::Doc(inner);
                hash = Some(hash_bytes(&[b"#doc", &[u8::from(inner)], body[3..].trim_ascii_end()]));
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 0usize;
                let mut j = i;
                loop {
                    if j + 1 >= b.len() {
                        return Err(LexError(i, "unterminated block comment"));
                    }
                    if b[j] == b'/' && b[j + 1] == b'*' {
                        depth += 1;
                        j += 2;
                    } else if b[j] == b'*' && b[j + 1] == b'/' {
                        depth -= 1;
                        j += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        j += 1;
                    }
                }
                let body = &b[i..j];
                let outer = body.starts_with(b"/**") && !body.starts_with(b"/***") && body != b"/**/";
                let inner = body.starts_with(b"/*!");
                i = j;
                if !(outer || inner) {
                    continue;
                }
                kind = Kind::Doc(inner);
                hash = Some(hash_bytes(&[b"#doc", &[u8::from(inner)], &body[3..body.len() - 2]]));
            }
            b'(' | b'[' | b'{' => {
                open.push(c);
                i += 1;
                kind = Kind::Open(c);
            }
            b')' | b']' | b'}' => {
                let want = match c {
                    b')' => b'(',
                    b']' => b'[',
                    _ => b'{',
                };
                if open.pop() != Some(want) {
                    return Err(LexError(i, "unexpected closing delimiter"));
                }
                i += 1;
                kind = Kind::Close(c);
            }
            b'"' => {
                i = ident_end(quoted(i, b'"')?);
                kind = Kind::Literal;
            }
            b'\'' => {
                // A char literal, or a lifetime (`'a`, `'r#a`, `'_`).
                let next = char_at(i + 1);
                let after = i + 1 + next.len_utf8();
                if next == '\\' {
                    i = ident_end(quoted(i, b'\'')?);
                    kind = Kind::Literal;
                } else if b.get(after) == Some(&b'\'') {
                    i = ident_end(after + 1);
                    kind = Kind::Literal;
                } else if ident_start(next) {
                    let mut j = i + 1;
                    if b[j..].starts_with(b"r#") {
                        j += 2;
                    }
                    i = ident_end(j);
                    kind = Kind::Lifetime;
                } else {
                    return Err(LexError(i, "malformed character literal"));
                }
            }
            b'0'..=b'9' => {
                let word = |mut j: usize| {
                    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                        j += 1;
                    }
                    j
                };
                let mut j = word(i);
                let radix = [b"0x", b"0o", b"0b"].iter().any(|p| b[i..j].starts_with(*p));
                // A fraction: `1.5`, `1.` (not `1..2`, not `1.foo()`).
                if !radix && b.get(j) == Some(&b'.') {
                    let range = b.get(j + 1) == Some(&b'.');
                    let method = j + 1 < b.len() && ident_start(char_at(j + 1));
                    if !range && !method {
                        j = word(j + 1);
                    }
                }
                // An exponent's sign: `1e-5`, `2.5E+3`.
                if !radix
                    && matches!(b[j - 1], b'e' | b'E')
                    && matches!(b.get(j), Some(b'+' | b'-'))
                    && b.get(j + 1).is_some_and(u8::is_ascii_digit)
                {
                    j = word(j + 1);
                }
                i = j;
                kind = Kind::Literal;
            }
            _ if c.is_ascii_punctuation() && !matches!(c, b'_' | b'\\' | b'`') => {
                i += 1;
                let comment = b[i..].starts_with(b"//") || b[i..].starts_with(b"/*");
                let joint = b.get(i).copied().is_some_and(is_punct) && !comment;
                kind = Kind::Punct(c, joint);
                hash = Some(hash_bytes(&[&[c], if joint { b"+" } else { b"" }]));
            }
            _ => {
                let ch = char_at(i);
                if ch.is_whitespace() {
                    i += ch.len_utf8();
                    continue;
                }
                if !ident_start(ch) {
                    return Err(LexError(i, "unexpected character"));
                }
                // Literal prefixes: `b'…'`, `b"…"`, `br"…"`, `r"…"`,
                // `r#"…"#`, `c"…"`, `cr"…"`; a raw identifier `r#name`.
                let rest = &b[i..];
                let raw_at = |p: usize| {
                    rest.get(p..)
                        .is_some_and(|r| r.iter().find(|&&x| x != b'#') == Some(&b'"'))
                };
                let end = if rest.starts_with(b"b'") {
                    Some(quoted(i + 1, b'\'')?)
                } else if rest.starts_with(b"b\"") || rest.starts_with(b"c\"") {
                    Some(quoted(i + 1, b'"')?)
                } else if (rest.starts_with(b"br") || rest.starts_with(b"cr")) && raw_at(2) {
                    Some(raw(i + 2)?)
                } else if rest.starts_with(b"r") && raw_at(1) {
                    Some(raw(i + 1)?)
                } else {
                    None
                };
                match end {
                    Some(end) => {
                        i = ident_end(end);
                        kind = Kind::Literal;
                    }
                    None => {
                        // `r#name`; else `r` is a name of its own (`r#` at
                        // the end, or before what starts no name).
                        let raw_name = rest.starts_with(b"r#") && ident_start(char_at(i + 2));
                        i = ident_end(if raw_name { i + 2 } else { i });
                        kind = Kind::Ident;
                    }
                }
            }
        }
        let hash = hash.unwrap_or_else(|| hash_bytes(&[&b[start..i]]));
        let at = cur.pos(start);
        let end = cur.pos(i);
        out.push(Tok {
            hash,
            kind,
            start: at,
            end,
            bytes: (start as u32, i as u32),
            doc: matches!(kind, Kind::Doc(_)),
        });
    }
    if !open.is_empty() {
        return Err(LexError(b.len(), "unclosed delimiter"));
    }
    mark_doc_attributes(text, &mut out);
    Ok(out)
}

/// The index after the group that opens at `i` (its close's + 1); for
/// another token, `i + 1`.
pub(super) fn group_end(toks: &[Tok], i: usize) -> usize {
    let mut depth = 0usize;
    for (j, t) in toks.iter().enumerate().skip(i) {
        match t.kind {
            Kind::Open(_) => depth += 1,
            Kind::Close(_) => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth == 0 {
            return j + 1;
        }
    }
    toks.len()
}

/// `#[doc …]` and `#![doc …]` written out: their tokens are a doc
/// comment's.
fn mark_doc_attributes(text: &str, toks: &mut [Tok]) {
    let mut i = 0;
    while i < toks.len() {
        if matches!(toks[i].kind, Kind::Punct(b'#', _)) {
            let bang = usize::from(matches!(toks.get(i + 1).map(|t| t.kind), Some(Kind::Punct(b'!', _))));
            let open = i + 1 + bang;
            if toks.get(open).map(|t| t.kind) == Some(Kind::Open(b'['))
                && toks
                    .get(open + 1)
                    .is_some_and(|t| t.kind == Kind::Ident && text_of(text, t) == "doc")
            {
                let end = group_end(toks, open);
                for t in &mut toks[i..end] {
                    t.doc = true;
                }
                i = end;
                continue;
            }
        }
        i += 1;
    }
}

pub(super) fn text_of<'t>(text: &'t str, t: &Tok) -> &'t str {
    &text[t.bytes.0 as usize..t.bytes.1 as usize]
}

/// Whether the tokens at `i` are an inner attribute: `#![…]` or `//!`;
/// how many tokens it takes.
fn inner_attribute(toks: &[Tok], i: usize) -> Option<usize> {
    match toks[i].kind {
        Kind::Doc(true) => Some(1),
        Kind::Punct(b'#', _)
            if matches!(toks.get(i + 1).map(|t| t.kind), Some(Kind::Punct(b'!', _)))
                && toks.get(i + 2).map(|t| t.kind) == Some(Kind::Open(b'[')) =>
        {
            Some(group_end(toks, i + 2) - i)
        }
        _ => None,
    }
}

/// The file's top-level items, as stretches of tokens. An item ends at a
/// `;`, or at a `{ … }` not followed by `;` where no `=` came first (a
/// `const`'s block initializer goes on to its `;`). A guess only: a chunk
/// that does not parse alone makes the whole file parsed.
fn chunks(toks: &[Tok]) -> Vec<Chunk> {
    let mut out = Vec::new();
    let mut from = 0;
    let mut assigns = false;
    let mut i = 0;
    while i < toks.len() {
        if i == from {
            if let Some(n) = inner_attribute(toks, i) {
                out.push(Chunk {
                    from: i,
                    to: i + n,
                    inner_attribute: true,
                });
                i += n;
                from = i;
                continue;
            }
        }
        let kind = toks[i].kind;
        i = group_end(toks, i);
        let ends = match kind {
            Kind::Punct(b';', _) => true,
            Kind::Punct(b'=', false) => {
                assigns = true;
                false
            }
            Kind::Open(b'{') => {
                let semi_next = matches!(toks.get(i).map(|t| t.kind), Some(Kind::Punct(b';', _)));
                !semi_next && !assigns
            }
            _ => false,
        };
        if ends {
            out.push(Chunk {
                from,
                to: i,
                inner_attribute: false,
            });
            from = i;
            assigns = false;
        }
    }
    if from < toks.len() {
        out.push(Chunk {
            from,
            to: toks.len(),
            inner_attribute: false,
        });
    }
    out
}

/// The text of tokens `[from, to)` where it stands in the file: padded
/// with the lines and columns before it, so that what the parser says of
/// it has the file's positions.
pub(super) fn placed_text(side: &Side, from: usize, to: usize) -> String {
    let (first, last) = (&side.toks[from], &side.toks[to - 1]);
    let body = &side.text[first.bytes.0 as usize..last.bytes.1 as usize];
    let mut s = padding(first, body.len());
    s.push_str(body);
    s
}

/// The lines and columns before `first`, as newlines and spaces, with room
/// for `more` bytes after them.
fn padding(first: &Tok, more: usize) -> String {
    let mut s = String::with_capacity(more + (first.start.line + first.start.col) as usize);
    for _ in 1..first.start.line {
        s.push('\n');
    }
    for _ in 0..first.start.col {
        s.push(' ');
    }
    s
}

/// Words a function's body holds an item, a `const` block or an attribute
/// with (`#`): where none is, the body is statements only.
const ITEM_WORDS: &[&str] = &[
    "fn",
    "struct",
    "enum",
    "union",
    "trait",
    "impl",
    "mod",
    "static",
    "const",
    "use",
    "extern",
    "type",
    "macro_rules",
    "macro",
];

/// `placed_text` with the insides of the function bodies in it blanked
/// (each character a space, lines kept) where a body holds nothing but
/// statements: the text as the parser needs it to find the item, its
/// signatures and where each body is, without parsing the statements.
/// For a text that built (a map's version): what the maps need of it is
/// where its bodies are, and items nested in them, never its statements.
#[cfg(test)]
pub(super) fn shell_text(side: &Side, from: usize, to: usize) -> String {
    let mut s = padding(&side.toks[from], 0);
    shell_into(side, from, to, &mut s);
    s
}

/// `shell_text` without the padding, appended to `s`.
fn shell_into(side: &Side, from: usize, to: usize, s: &mut String) {
    let toks = &side.toks;
    let mut blank: Vec<(usize, usize)> = Vec::new();
    let mut i = from;
    while i < to {
        if !(toks[i].kind == Kind::Ident && text_of(&side.text, &toks[i]) == "fn") {
            i += 1;
            continue;
        }
        // Its body: the first `{` at the depth of `fn` (a `;` first: none).
        let mut j = i + 1;
        let mut depth = 0usize;
        let mut body = None;
        while j < to {
            match toks[j].kind {
                Kind::Open(b'{') if depth == 0 => {
                    body = Some(j);
                    break;
                }
                Kind::Open(_) => depth += 1,
                Kind::Close(_) if depth == 0 => break,
                Kind::Close(_) => depth -= 1,
                Kind::Punct(b';', _) if depth == 0 => break,
                _ => {}
            }
            j += 1;
        }
        let Some(open) = body else {
            i = j.max(i + 1);
            continue;
        };
        let end = group_end(toks, open).min(to);
        let plain = toks[open + 1..end - 1].iter().all(|t| match t.kind {
            Kind::Ident => !ITEM_WORDS.contains(&text_of(&side.text, t)),
            Kind::Punct(b'#', _) | Kind::Doc(_) => false,
            _ => true,
        });
        if plain && end - open > 2 {
            blank.push((toks[open].bytes.1 as usize, toks[end - 1].bytes.0 as usize));
            i = end;
        } else {
            i = open + 1;
        }
    }
    let (first, last) = (&side.toks[from], &side.toks[to - 1]);
    let (start, stop) = (first.bytes.0 as usize, last.bytes.1 as usize);
    let mut at = start;
    for (a, b) in blank {
        s.push_str(&side.text[at..a]);
        s.extend(side.text[a..b].chars().map(|c| if c == '\n' { '\n' } else { ' ' }));
        at = b;
    }
    s.push_str(&side.text[at..stop]);
}

/// Newlines and spaces from `at` to `to` (after it in the text).
fn pad(s: &mut String, at: &mut Pos, to: Pos) {
    if to.line > at.line {
        s.extend(std::iter::repeat_n('\n', (to.line - at.line) as usize));
        at.col = 0;
    }
    s.extend(std::iter::repeat_n(' ', to.col.saturating_sub(at.col) as usize));
    *at = to;
}

/// The items that token runs `[from, to)` touch, parsed: all of them as
/// one text, where each stands in the file (what lies between them
/// blanked, so that the parser's positions are the file's, and a file's
/// hunks cost one parse, not one per item padded to its place), else the
/// whole file where that does not parse. `shells`: a text that built,
/// whose statement-only bodies are not parsed (`shell_text`).
pub(super) fn parse_touched(
    side: &Side,
    runs: impl Iterator<Item = (usize, usize)>,
    shells: bool,
) -> Result<Vec<syn::Item>, String> {
    let chunks = &side.chunks;
    let mut touched = vec![false; chunks.len()];
    for (from, to) in runs {
        // An empty run touches the items either side of it.
        let (lo, hi) = if to > from {
            (from, to)
        } else {
            (from.saturating_sub(1), from + 1)
        };
        let mut i = chunks.partition_point(|c| c.to <= lo);
        while i < chunks.len() && chunks[i].from < hi {
            touched[i] = true;
            i += 1;
        }
    }
    let mut text = String::new();
    let mut at = Pos { line: 1, col: 0 };
    for (c, _) in chunks.iter().zip(&touched).filter(|(c, t)| **t && !c.inner_attribute) {
        pad(&mut text, &mut at, side.toks[c.from].start);
        if shells {
            shell_into(side, c.from, c.to, &mut text);
        } else {
            let (first, last) = (&side.toks[c.from], &side.toks[c.to - 1]);
            text.push_str(&side.text[first.bytes.0 as usize..last.bytes.1 as usize]);
        }
        at = side.toks[c.to - 1].end;
    }
    if text.is_empty() {
        return Ok(Vec::new());
    }
    match syn::parse_str::<syn::File>(&text) {
        Ok(file) => Ok(file.items),
        Err(_) => syn::parse_str::<syn::File>(&side.text)
            .map(|f| f.items)
            .map_err(|e| parse_error(&e)),
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

/// How much diffing one stretch of tokens may cost (the token comparisons
/// of Myers' forward pass, about): past it, the stretch is one hunk. Myers
/// costs the stretch's length times the number of edits, so a file
/// rewritten through and through (a major version's generated code) would
/// take seconds; as one hunk, it is placed at once (in the static tier,
/// unless it lies in one function's body).
const DIFF_BUDGET: usize = 8_000_000;

/// The hunks between two token lists: the top-level items (`chunks`)
/// aligned first, each compared whole; then the tokens of each run of
/// changed items (item against item where the run's counts match, so an
/// edit in each of a file's functions stays in its function).
pub(super) fn token_hunks(a: &[Tok], b: &[Tok]) -> Vec<Hunk> {
    let x: Vec<u64> = a.iter().map(|t| t.hash).collect();
    let y: Vec<u64> = b.iter().map(|t| t.hash).collect();
    if x == y {
        return Vec::new();
    }
    let (ca, cb) = (chunks(a), chunks(b));
    let whole = |v: &[u64], c: &Chunk| hash_words(&v[c.from..c.to]);
    let ha: Vec<u64> = ca.iter().map(|c| whole(&x, c)).collect();
    let hb: Vec<u64> = cb.iter().map(|c| whole(&y, c)).collect();
    // The tokens of chunks `[from, to)`; an empty run is where it would be.
    let span = |c: &[Chunk], len: usize, from: usize, to: usize| {
        if to > from {
            (c[from].from, c[to - 1].to)
        } else {
            let at = c.get(from).map_or(len, |k| k.from);
            (at, at)
        }
    };
    let mut out = Vec::new();
    // Items rewritten past the budget too (tens of thousands of one-line
    // items): the file is one stretch.
    if !within_edits(&ha, &hb, DIFF_BUDGET / (ha.len() + hb.len()).max(1)) {
        region_hunks(&x, &y, (0, x.len()), (0, y.len()), &mut out);
        return out;
    }
    for op in similar::capture_diff_slices(similar::Algorithm::Myers, &ha, &hb) {
        let (tag, o, n) = op.as_tag_tuple();
        let (ra, rb) = (span(&ca, x.len(), o.start, o.end), span(&cb, y.len(), n.start, n.end));
        if tag == similar::DiffTag::Equal && x[ra.0..ra.1] == y[rb.0..rb.1] {
            continue;
        }
        if o.len() == n.len() && o.len() > 1 {
            for i in 0..o.len() {
                let ra = span(&ca, x.len(), o.start + i, o.start + i + 1);
                let rb = span(&cb, y.len(), n.start + i, n.start + i + 1);
                region_hunks(&x, &y, ra, rb, &mut out);
            }
        } else {
            region_hunks(&x, &y, ra, rb, &mut out);
        }
    }
    out
}

/// FNV-1a over a run of token hashes.
fn hash_words(v: &[u64]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for w in v {
        h = (h ^ w).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The hunks between `x[ra]` and `y[rb]`, in the lists' own indices; the
/// whole stretch as one hunk where diffing it would cost past the budget.
fn region_hunks(x: &[u64], y: &[u64], ra: (usize, usize), rb: (usize, usize), out: &mut Vec<Hunk>) {
    let (xs, ys) = (&x[ra.0..ra.1], &y[rb.0..rb.1]);
    if xs == ys {
        return;
    }
    let max_d = DIFF_BUDGET / (xs.len() + ys.len()).max(1);
    if !within_edits(xs, ys, max_d) {
        out.push(Hunk { old: ra, new: rb });
        return;
    }
    let mut open = false;
    for op in similar::capture_diff_slices(similar::Algorithm::Myers, xs, ys) {
        let (tag, o, n) = op.as_tag_tuple();
        if tag == similar::DiffTag::Equal {
            open = false;
            continue;
        }
        let (o, n) = ((ra.0 + o.start, ra.0 + o.end), (rb.0 + n.start, rb.0 + n.end));
        match out.last_mut() {
            Some(h) if open => {
                h.old.1 = o.1;
                h.new.1 = n.1;
            }
            _ => out.push(Hunk { old: o, new: n }),
        }
        open = true;
    }
}

/// Whether `x` becomes `y` in at most `max` insertions and deletions:
/// Myers' greedy forward pass, stopped at `max` (its cost is the lists'
/// length times the edits).
fn within_edits(x: &[u64], y: &[u64], max: usize) -> bool {
    let (n, m) = (x.len() as isize, y.len() as isize);
    let max = max.min(x.len() + y.len()) as isize;
    let off = max + 1;
    // v[k + off]: the furthest x reached on diagonal k.
    let mut v = vec![0isize; (2 * max + 3) as usize];
    for d in 0..=max {
        let mut k = -d;
        while k <= d {
            let i = (k + off) as usize;
            let mut xi = if k == -d || (k != d && v[i - 1] < v[i + 1]) {
                v[i + 1]
            } else {
                v[i - 1] + 1
            };
            let mut yi = xi - k;
            while xi < n && yi >= 0 && yi < m && x[xi as usize] == y[yi as usize] {
                xi += 1;
                yi += 1;
            }
            v[i] = xi;
            if xi >= n && yi >= m {
                return true;
            }
            k += 2;
        }
    }
    false
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_edit_bound_counts_insertions_and_deletions() {
        let (a, b) = ([1u64, 2, 3, 4], [1u64, 2, 9, 3, 4]);
        assert!(within_edits(&a, &a, 0));
        assert!(!within_edits(&a, &b, 0));
        assert!(within_edits(&a, &b, 1), "one insertion");
        let c = [1u64, 2, 9, 4];
        assert!(!within_edits(&a, &c, 1));
        assert!(within_edits(&a, &c, 2), "a replacement is a deletion and an insertion");
        assert!(within_edits(&[], &b, 5) && !within_edits(&[], &b, 4));
        let (long, other): (Vec<u64>, Vec<u64>) = ((0..400).collect(), (1000..1400).collect());
        assert!(!within_edits(&long, &other, 799) && within_edits(&long, &other, 800));
    }

    #[test]
    fn each_items_edit_is_its_own_hunk_and_a_rewrite_past_the_budget_is_one() {
        let old = "fn a() {\n    1\n}\nfn b() {\n    2\n}\nfn c() {\n    3\n}\n";
        let new = old.replace("1", "10").replace("3", "30");
        let (a, b) = (lex(old).unwrap(), lex(&new).unwrap());
        let hunks = token_hunks(&a.toks, &b.toks);
        let lines: Vec<[u32; 2]> = hunks
            .iter()
            .map(|h| [a.toks[h.old.0].start.line, a.toks[h.old.1 - 1].end.line])
            .collect();
        assert_eq!(lines, [[2, 2], [8, 8]]);
        // One item, every token changed, too long to diff within the
        // budget: the whole item is the hunk.
        let n = 3000;
        let body = |k: usize| {
            (0..n)
                .map(|i| format!("x{}", i * 7 + k))
                .collect::<Vec<_>>()
                .join(" + ")
        };
        let (old, new) = (
            format!("fn f() {{ {} }}\n", body(1)),
            format!("fn f() {{ {} }}\n", body(2)),
        );
        let (a, b) = (lex(&old).unwrap(), lex(&new).unwrap());
        assert!(
            DIFF_BUDGET / (a.toks.len() + b.toks.len()) < 2 * n,
            "the rewrite is past the budget"
        );
        let hunks = token_hunks(&a.toks, &b.toks);
        assert_eq!(hunks.len(), 1);
        assert_eq!((hunks[0].old, hunks[0].new), ((0, a.toks.len()), (0, b.toks.len())));
        // So are thousands of one-line items, every one renamed.
        let items = |p: &str| {
            (0..3000)
                .map(|i| format!("const {p}{i}: u8 = 1;\n"))
                .collect::<String>()
        };
        let (a, b) = (lex(&items("A")).unwrap(), lex(&items("B")).unwrap());
        let hunks = token_hunks(&a.toks, &b.toks);
        assert_eq!(hunks.len(), 1);
        assert_eq!((hunks[0].old, hunks[0].new), ((0, a.toks.len()), (0, b.toks.len())));
    }

    /// proc-macro2's tokens of `text`, flattened as the lexer gives them:
    /// (start, end, text), a lifetime as one token, doc comments left out.
    fn oracle(text: &str) -> Vec<(Pos, Pos, String)> {
        fn walk(ts: TokenStream, out: &mut Vec<(Pos, Pos, String)>) {
            let trees: Vec<TokenTree> = ts.into_iter().collect();
            let mut i = 0;
            while i < trees.len() {
                let t = &trees[i];
                let src = t.span().source_text().unwrap_or_default();
                if src.starts_with("//") || src.starts_with("/*") {
                    // A doc comment's `#`, `!`? and `[doc = …]`.
                    i += 1;
                    while i < trees.len() && trees[i].span().source_text().unwrap_or_default() == src {
                        i += 1;
                    }
                    continue;
                }
                match t {
                    TokenTree::Group(g) => {
                        let (o, c) = delimiters(g.delimiter());
                        out.push((g.span_open().start().into(), g.span_open().end().into(), o.into()));
                        walk(g.stream(), out);
                        out.push((g.span_close().start().into(), g.span_close().end().into(), c.into()));
                    }
                    TokenTree::Punct(p) if p.as_char() == '\'' => {
                        let next = &trees[i + 1];
                        out.push((p.span().start().into(), next.span().end().into(), format!("'{next}")));
                        i += 1;
                    }
                    other => out.push((
                        other.span().start().into(),
                        other.span().end().into(),
                        other.to_string(),
                    )),
                }
                i += 1;
            }
        }
        let mut out = Vec::new();
        walk(text.parse().unwrap(), &mut out);
        out
    }

    fn ours(text: &str) -> Vec<(Pos, Pos, String)> {
        let side = lex(text).unwrap();
        side.toks
            .iter()
            .filter(|t| !matches!(t.kind, Kind::Doc(_)))
            .map(|t| (t.start, t.end, text_of(&side.text, t).to_owned()))
            .collect()
    }

    fn same(text: &str) {
        let (a, b) = (ours(text), oracle(text));
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x, y, "in {text:?}");
        }
        assert_eq!(a.len(), b.len(), "in {text:?}");
    }

    #[test]
    fn tokens_and_positions_are_proc_macro2s() {
        same("fn f<'a>(x: &'a str) -> &'a str { x }");
        same("let c = 'x'; let e = '\\''; let u = '\\u{1F600}'; let l: &'static str = \"a\\\"b\";");
        same("let r = r#\"a \"quoted\" b\"#; let b = br\"x\"; let y = b'\\n'; let z = b\"\\x00\"; let c = c\"hi\";");
        same("let n = 1..2; let t = x.0.1; let f = 1.5e-3f64; let h = 0xFF_u8; let m = 1.max(2); let d = 1.;");
        same("a+=b; c->d; e=>f; g::h; i<=j; k&&l; m..=n; #[attr] o; a+//c\nb");
        same("/* outer /* nested */ still */ fn g() {} /**/ fn h() {}");
        same("let größe = \"ünïcödé\"; let 名前 = 1; fn r#match() {}");
        same("macro_rules! m { ($x:expr) => { $x + 1 }; }");
        same("let s = \"multi\nline\"; let r = r##\"has \"# inside\"##;");
    }

    /// Sources of vigil's own, of every kind of token it writes: the
    /// lexer (raw strings, byte and char literals), the parser's users,
    /// the proxy, the mapping decoder, the view, the command line. (The
    /// whole of `~/.cargo/registry/src`, 9,830 files, was checked the same
    /// way once by hand.)
    const SOURCES: &[(&str, &str)] = &[
        ("syntax/tokens.rs", include_str!("tokens.rs")),
        ("syntax/mod.rs", include_str!("mod.rs")),
        ("syntax/items.rs", include_str!("items.rs")),
        ("syntax/bodies.rs", include_str!("bodies.rs")),
        ("adapters/proxy.rs", include_str!("../../adapters/proxy.rs")),
        (
            "adapters/profile/mapping.rs",
            include_str!("../../adapters/profile/mapping.rs"),
        ),
        (
            "adapters/nextest_json.rs",
            include_str!("../../adapters/nextest_json.rs"),
        ),
        ("adapters/reads.rs", include_str!("../../adapters/reads.rs")),
        ("ui/detail.rs", include_str!("../../ui/detail.rs")),
        ("app/check.rs", include_str!("../../app/check.rs")),
        ("lsp/sites.rs", include_str!("../../lsp/sites.rs")),
        ("core/update/plan.rs", include_str!("../update/plan.rs")),
        ("core/assertion.rs", include_str!("../assertion.rs")),
        ("bin/vigil/main.rs", include_str!("../../bin/vigil/main.rs")),
        ("bin/vigil/args.rs", include_str!("../../bin/vigil/args.rs")),
    ];

    #[test]
    fn the_lexer_agrees_with_proc_macro2_on_vigils_own_sources() {
        for (name, text) in SOURCES {
            if std::panic::catch_unwind(|| same(text)).is_err() {
                panic!("{name}");
            }
        }
    }

    /// A text that built, parsed as shells (statement-only bodies
    /// blanked), has the bodies, items and zones of the text parsed whole:
    /// on every chunk of vigil's own sources.
    #[test]
    fn shells_place_bodies_as_the_whole_parse_does() {
        let mut chunks = 0;
        let mut blanked = 0;
        for (name, text) in SOURCES {
            let side = lex(text).unwrap();
            for c in side.chunks.iter().filter(|c| !c.inner_attribute) {
                let (whole, shell) = (placed_text(&side, c.from, c.to), shell_text(&side, c.from, c.to));
                let (Ok(a), Ok(b)) = (syn::parse_str::<syn::Item>(&whole), syn::parse_str::<syn::Item>(&shell)) else {
                    continue;
                };
                chunks += 1;
                blanked += usize::from(whole != shell);
                let (a, b) = (std::slice::from_ref(&a), std::slice::from_ref(&b));
                let show = |x: Vec<Body>| {
                    format!(
                        "{:?}",
                        x.iter().map(|b| (&b.name, b.inside, &b.nested)).collect::<Vec<_>>()
                    )
                };
                assert_eq!(show(bodies(a)), show(bodies(b)), "{name}");
                let named =
                    |x: &[syn::Item]| format!("{:?}", items(x).iter().map(|i| (&i.name, i.extent)).collect::<Vec<_>>());
                assert_eq!(named(a), named(b), "{name}");
                assert_eq!(format!("{:?}", zones(a)), format!("{:?}", zones(b)), "{name}");
            }
        }
        assert!(
            chunks > 150 && blanked > 60,
            "{chunks} chunks, {blanked} with bodies blanked"
        );
    }

    /// Texts cut, joined and spliced at random from real sources (a fixed
    /// seed): lexing and placing never panic, and place the same way twice.
    #[test]
    fn mangled_texts_are_placed_or_refused_never_a_panic() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n.max(1) as u64) as usize
        };
        let pieces = [
            "r#", "r#\"", "'", "b'", "/*", "*/", "///", "\"", "{", "}", "1.", "e-", "#![", "fn ", "\u{feff}", "é",
        ];
        let mut placed = 0;
        for round in 0..150 {
            let (_, text) = SOURCES[round % SOURCES.len()];
            let chars: Vec<char> = text.chars().collect();
            let at = next(chars.len());
            let len = next(200).min(chars.len() - at);
            let mut new: String = chars[..at].iter().collect();
            match round % 3 {
                0 => {}
                1 => new.push_str(pieces[next(pieces.len())]),
                _ => new.extend(chars[next(chars.len())..].iter().take(next(50))),
            }
            new.extend(&chars[at + len..]);
            let cut: String = chars[..next(chars.len())].iter().collect();
            for (old, now) in [
                (text.to_owned(), new.clone()),
                (cut.clone(), new.clone()),
                (new.clone(), cut),
            ] {
                let a = attribute(&old, &now);
                assert_eq!(a, attribute(&old, &now), "placed the same way twice");
                placed += usize::from(!matches!(a, Attribution::Static(_)));
                // What the adapter asks of any source: readers, includes,
                // test macros; answered or refused, never a panic.
                // A name the text holds: the first `const`'s, else a word.
                let name: String = now
                    .split("const ")
                    .nth(1)
                    .unwrap_or("fn")
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                let _ = super::super::value_readers(&now, &name, true);
                let _ = super::super::value_readers(&now, &name, false);
                let _ = super::super::includes(&now);
                let _ = super::super::defines_one_test(&now, "rgtest");
            }
        }
        for tail in ["r#", "r", "'", "b", "br", "1e", "0x", "/", "#", "r#\"", "'\\"] {
            let _ = lex(tail);
            let _ = attribute("fn f() {}", &format!("fn f() {{}} {tail}"));
        }
        assert!(placed > 0, "some mangled texts are still placed");
    }

    #[test]
    fn doc_comments_are_tokens_and_plain_comments_are_not() {
        let side = lex("/// doc\n//// not doc\n/** doc */\n/*** not */\n/**/\n//! inner\nfn f() {}").unwrap();
        let kinds: Vec<Kind> = side.toks.iter().map(|t| t.kind).collect();
        assert_eq!(kinds[..3], [Kind::Doc(false), Kind::Doc(false), Kind::Doc(true)]);
        assert_eq!(kinds.len(), 3 + 6, "{kinds:?}");
        // `#[doc = …]` written out is a doc comment's too.
        let side = lex("#[doc = \"x\"]\n#[inline]\nfn f() {}").unwrap();
        assert!(side.toks[..6].iter().all(|t| t.doc));
        assert!(side.toks[6..].iter().all(|t| !t.doc));
    }

    #[test]
    fn bad_texts_say_what_and_where() {
        for (text, why) in [
            ("fn f() {\n", "line 2: unclosed delimiter"),
            ("fn f() }", "line 1: unexpected closing delimiter"),
            ("let s = \"open", "line 1: unterminated literal"),
            ("x\n/* open", "line 2: unterminated block comment"),
            ("let r = r#\"open", "line 1: unterminated raw string"),
        ] {
            assert_eq!(lex(text).err().as_deref(), Some(why), "{text:?}");
        }
    }

    #[test]
    fn a_shebang_and_a_byte_order_mark_are_not_tokens() {
        let side = lex("\u{feff}#!/usr/bin/env run-cargo-script\nfn main() {}").unwrap();
        assert_eq!(text_of(&side.text, &side.toks[0]), "fn");
        assert_eq!(side.toks[0].start, Pos { line: 2, col: 0 });
        let side = lex("#![allow(x)]\nfn main() {}").unwrap();
        assert!(side.chunks[0].inner_attribute);
    }
}
