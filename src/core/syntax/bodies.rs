//! Function bodies and the zones around them: where an edit narrows by the
//! maps (inside a non-`const` body), which attributes on a function change
//! no behaviour (`#[inline]`, lint levels), and functions a change adds.

use super::*;

/// The body of a non-`const` function: what lies between its braces, less
/// the items and `const` blocks nested in it; an edit touching a `cfg`
/// attribute in it is an edit of the whole body.
#[derive(Debug)]
pub(super) struct Body {
    pub(super) name: String,
    pub(super) inside: Extent,
    pub(super) nested: Vec<Extent>,
    pub(super) cfgs: Vec<Extent>,
}

impl Body {
    /// The lines an edit at `x` changes: its own, or the whole body's where
    /// it touches a `cfg` attribute (what that leaves in or out is
    /// anywhere in the body its statement spans; no map shows code left
    /// out).
    pub(super) fn edited_lines(&self, x: Extent, other_side_cfg: bool) -> [u32; 2] {
        if other_side_cfg || self.touches_cfg(x) {
            return [self.inside.start.line, self.inside.end.line];
        }
        [x.start.line, x.end.line.max(x.start.line)]
    }

    pub(super) fn touches_cfg(&self, x: Extent) -> bool {
        self.cfgs
            .iter()
            .any(|c| overlaps(*c, x) || (x.start == x.end && c.start == x.start))
    }
}

pub(super) fn body_of(bodies: &[Body], x: Extent) -> Option<&Body> {
    bodies
        .iter()
        .find(|b| x.within(b.inside) && !b.nested.iter().any(|n| overlaps(*n, x)))
}

pub(super) fn overlaps(a: Extent, b: Extent) -> bool {
    a.start < b.end && b.start < a.end
}

pub(super) fn bodies(items: &[syn::Item]) -> Vec<Body> {
    let mut out = Vec::new();
    walk_bodies(items, "", &mut out);
    out
}

pub(super) fn walk_bodies(items: &[syn::Item], prefix: &str, out: &mut Vec<Body>) {
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

pub(super) fn push_body(sig: &syn::Signature, block: &syn::Block, prefix: &str, out: &mut Vec<Body>) {
    if sig.constness.is_some() {
        return;
    }
    let braces = &block.brace_token.span;
    let mut nested = Vec::new();
    nested_items(block, "", 0, &mut nested);
    let (cfgs, fixed): (Vec<Item>, Vec<Item>) = nested.into_iter().partition(|i| i.why == CFG_WHY);
    out.push(Body {
        name: format!("{prefix}fn {}", sig.ident),
        inside: Extent {
            start: braces.open().end().into(),
            end: braces.close().start().into(),
        },
        nested: fixed.into_iter().map(|i| i.extent).collect(),
        cfgs: cfgs.into_iter().map(|i| i.extent).collect(),
    });
}

pub(super) fn impl_name(i: &syn::ItemImpl) -> String {
    let ty = tokens(&i.self_ty);
    match &i.trait_ {
        Some((_, path, _)) => format!("<{ty} as {}>", tokens(path)),
        None => ty,
    }
}

/// The functions and inherent methods of `items` whose names no token of
/// the old text carries, and that nothing can reach without naming them:
/// no exported symbol (`no_mangle`, `export_name`, `link_section`, `used`),
/// no attribute macro other than the test harnesses', not in a trait impl,
/// not a name the prelude gives (`drop`), which the new item would shadow.
/// Code elsewhere that names one may now resolve to it (an inherent method
/// is chosen over a trait's of the same name): the caller looks.
pub(super) fn added_functions(old: &[Tok], items: &[syn::Item]) -> Vec<Added> {
    let old_names: std::collections::HashSet<u64> = old.iter().map(|t| t.hash).collect();
    let mut out = Vec::new();
    added_in(&old_names, items, "", &mut out);
    out
}

/// A function the change adds.
pub(super) struct Added {
    /// Its attributes and doc comments included.
    pub(super) extent: Extent,
    /// `fn helper`, `Buf::fn peek`.
    pub(super) label: String,
    pub(super) name: String,
    pub(super) public: bool,
}

pub(super) fn added_in(
    old_names: &std::collections::HashSet<u64>,
    items: &[syn::Item],
    prefix: &str,
    out: &mut Vec<Added>,
) {
    let fresh =
        |attrs: &[syn::Attribute], vis: &syn::Visibility, sig: &syn::Signature, block: &syn::Block, at: &str| {
            let name = sig.ident.to_string();
            let named = old_names.contains(&hash_of(&sig.ident)) || name == "drop";
            (!named && attrs.iter().all(harmless_on_new)).then(|| Added {
                extent: Extent {
                    start: item_start(attrs, vis, sig),
                    end: block.brace_token.span.close().end().into(),
                },
                label: format!("{at}fn {name}"),
                public: !matches!(vis, syn::Visibility::Inherited),
                name,
            })
        };
    for item in items {
        match item {
            syn::Item::Fn(f) => out.extend(fresh(&f.attrs, &f.vis, &f.sig, &f.block, prefix)),
            syn::Item::Impl(i) if i.trait_.is_none() => {
                let at = format!("{prefix}{}::", impl_name(i));
                for it in &i.items {
                    if let syn::ImplItem::Fn(f) = it {
                        out.extend(fresh(&f.attrs, &f.vis, &f.sig, &f.block, &at));
                    }
                }
            }
            syn::Item::Mod(m) => {
                if let Some((_, inner)) = &m.content {
                    added_in(old_names, inner, &format!("{prefix}{}::", m.ident), out);
                }
            }
            _ => {}
        }
    }
}

/// Where a function item starts: its first attribute (doc comments
/// included), else `pub`, `async`, `unsafe`, `extern` or `fn`.
pub(super) fn item_start(attrs: &[syn::Attribute], vis: &syn::Visibility, sig: &syn::Signature) -> Pos {
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
pub(super) fn harmless_on_new(a: &syn::Attribute) -> bool {
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
#[derive(Debug)]
pub(super) struct FnZone {
    pub(super) name: String,
    pub(super) zone: Extent,
    pub(super) inert: Vec<Extent>,
    pub(super) body_lines: [u32; 2],
}

/// Attributes whose change no test can see: inlining, `must_use`, lint
/// levels, `cold`, formatter and linter tool attributes. (`track_caller`
/// moves panic locations, `cfg` and `derive` change what exists, `test`,
/// `ignore` and `should_panic` change a test: none of them is here.)
pub(super) fn inert_attribute(a: &syn::Attribute) -> bool {
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

pub(super) fn zones(items: &[syn::Item]) -> Vec<FnZone> {
    let mut out = Vec::new();
    walk_zones(items, "", &mut out);
    out
}

pub(super) fn walk_zones(items: &[syn::Item], prefix: &str, out: &mut Vec<FnZone>) {
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

pub(super) fn push_zone(
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
pub(super) fn inert_zone<'z>(zones: &'z [FnZone], toks: &[Tok], (from, to): (usize, usize)) -> Option<&'z FnZone> {
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
pub(super) fn inert_attribute_edit(old: &[FnZone], new: &[FnZone], a: &[Tok], b: &[Tok], h: &Hunk) -> Option<BodyEdit> {
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
