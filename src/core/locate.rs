//! Locations named in tool output: a doctest's example, a diagnostic's
//! primary span.

/// `src/lib.rs - Money::new (line 20)` → (`src/lib.rs`, 20).
pub fn doctest(name: &str) -> Option<(String, u32)> {
    let (file, rest) = name.split_once(" - ")?;
    let line = rest.rsplit_once("(line ")?.1.split(')').next()?.parse().ok()?;
    Some((file.to_owned(), line))
}

/// cargo's ` --> file:line:col`.
pub fn diagnostic(rendered: &str) -> Option<(String, u32)> {
    let arrow = rendered.lines().find_map(|l| l.trim_start().strip_prefix("--> "))?;
    let mut parts = arrow.trim().rsplitn(3, ':');
    parts.next()?;
    let line = parts.next()?.parse().ok()?;
    Some((parts.next()?.to_owned(), line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_read_from_tool_output() {
        assert_eq!(
            doctest("src/lib.rs - Money::new (line 12)"),
            Some(("src/lib.rs".into(), 12))
        );
        let r = "error[E0308]: mismatched types\n --> money/src/lib.rs:4:5\n  |\n";
        assert_eq!(diagnostic(r), Some(("money/src/lib.rs".into(), 4)));
        assert_eq!(diagnostic("error: linking failed"), None);
    }
}
