//! Per-test coverage maps: the lines each test ran, per file, and the
//! content of each file they were measured on (a hash). A map measured on
//! other contents than the file has now is stale and says so; a change the
//! map can place (old and new text known) moves the map's lines with it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A test, as the catalog names it: its binary id and its name. A tuple
/// struct, so it is kept (JSON, the history's cache) as the pair it was.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct TestId(pub String, pub String);

impl TestId {
    pub fn new(binary_id: impl Into<String>, name: impl Into<String>) -> Self {
        TestId(binary_id.into(), name.into())
    }
}

impl std::fmt::Display for TestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.0, self.1)
    }
}

/// The name the maps and the selection use.
pub(crate) type TestKey = TestId;

/// What one test ran in one file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileMap {
    /// The file's content hash when the test was measured.
    pub hash: String,
    /// Lines run, folded into inclusive ranges, in order.
    pub lines: Vec<[u32; 2]>,
    /// Branch outcomes taken: `[line, column, 1]` for a condition's true
    /// outcome, `[line, column, 0]` for its false one (empty unless built
    /// with branch coverage).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub branches: Vec<[u32; 3]>,
}

/// What one test ran: workspace-relative path → lines.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TestMap {
    pub files: BTreeMap<String, FileMap>,
    /// Why the map may lack code the test ran (a process it started whose
    /// binary vigil could not read): such a test is always selected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial: Option<String>,
    /// Why the map is not the test's alone (doctests whose processes
    /// cannot be told apart share the union of what they ran): said with
    /// each selection it makes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared: Option<String>,
    /// The test failed when this map was measured: it is selected until
    /// it passes (a doctest's state is nowhere else a later vigil sees).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub failed: bool,
    /// What the test's processes read at run time, inside the workspace
    /// (`None`: not traced, so nothing is known of it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reads: Option<Reads>,
}

/// The files a test's processes opened or looked for while it ran, and the
/// directories they listed (workspace-relative paths, outside `target/`).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Reads {
    /// Path → its content hash when the test had run; `""`: the test
    /// looked for it and it was not there (or it is a directory).
    pub files: BTreeMap<String, String>,
    /// Directories listed: a new file in one reaches the test.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub dirs: BTreeSet<String>,
}

impl Reads {
    /// Whether a change to `path` (changed, created or removed) can reach
    /// what the test read: it read or looked for the path, or listed the
    /// directory it is in.
    pub fn names(&self, path: &str) -> bool {
        let parent = path.rsplit_once('/').map_or("", |(d, _)| d);
        self.files.contains_key(path) || self.dirs.contains(parent) || self.dirs.contains(path)
    }
}

impl TestMap {
    pub(crate) fn line_count(&self) -> u32 {
        self.files
            .values()
            .flat_map(|f| f.lines.iter())
            .map(|r| r[1] - r[0] + 1)
            .sum()
    }

    pub fn reaches(&self, path: &str, line: u32) -> bool {
        self.files
            .get(path)
            .is_some_and(|f| f.lines.iter().any(|r| r[0] <= line && line <= r[1]))
    }
}

/// Every test's latest map.
#[derive(Clone, Debug, Default)]
pub struct TestMaps {
    pub tests: HashMap<TestKey, TestMap>,
}

impl TestMaps {
    pub fn is_empty(&self) -> bool {
        self.tests.is_empty()
    }

    /// Replaces the maps of the tests just measured.
    pub fn merge(&mut self, measured: Vec<(TestKey, TestMap)>) {
        self.tests.extend(measured);
    }

    /// The tests whose recorded reads a change to `path` reaches, sorted.
    pub(crate) fn readers(&self, path: &str) -> Vec<TestKey> {
        let mut out: Vec<TestKey> = self
            .tests
            .iter()
            .filter(|(_, m)| m.reads.as_ref().is_some_and(|r| r.names(path)))
            .map(|(k, _)| k.clone())
            .collect();
        out.sort();
        out
    }

    /// Whether each of `tests` has its run-time reads recorded (then a
    /// file none of them read reaches none of them).
    pub fn traced<'a>(&self, mut tests: impl Iterator<Item = &'a TestKey>) -> bool {
        tests.all(|k| {
            self.tests
                .get(k)
                .is_some_and(|m| m.reads.is_some() && m.partial.is_none())
        })
    }

    /// Whether any map mentions `path`.
    pub fn mentions(&self, path: &str) -> bool {
        self.tests.values().any(|m| m.files.contains_key(path))
    }

    /// How many tests reach each line of `path`.
    pub fn counts(&self, path: &str) -> BTreeMap<u32, u32> {
        let mut out = BTreeMap::new();
        for m in self.tests.values() {
            if let Some(f) = m.files.get(path) {
                for r in &f.lines {
                    for l in r[0]..=r[1] {
                        *out.entry(l).or_insert(0) += 1;
                    }
                }
            }
        }
        out
    }

    /// The tests that reach `line` of `path`, sorted.
    pub(crate) fn reaching(&self, path: &str, line: u32) -> Vec<TestKey> {
        let mut out: Vec<TestKey> = self
            .tests
            .iter()
            .filter(|(_, m)| m.reaches(path, line))
            .map(|(k, _)| k.clone())
            .collect();
        out.sort();
        out
    }
}

/// What a suite's tests reach together, from the union of their maps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reach {
    pub lines: u64,
    /// Of the workspace's executable lines, in percent.
    pub lines_percent: Option<f64>,
    /// Branch outcomes taken (`None`: branches not measured).
    pub branches: Option<u64>,
    /// Of the workspace's branch outcomes, in percent.
    pub branches_percent: Option<f64>,
}

/// The lines and branch outcomes a suite's tests reach, from the union of
/// their maps, and those as shares of the workspace's executable lines
/// (`executable`) and branch outcomes (`outcomes`: `None` when branch
/// coverage was not measured). `None`: none of its tests has a map.
pub fn suite_reach(
    maps: &TestMaps,
    suite: &super::Suite,
    executable: Option<u64>,
    outcomes: Option<u64>,
) -> Option<Reach> {
    let mut lines: std::collections::HashSet<(&str, u32)> = std::collections::HashSet::new();
    let mut taken: std::collections::HashSet<(&str, [u32; 3])> = std::collections::HashSet::new();
    let mut mapped = false;
    for t in &suite.tests {
        let Some(m) = maps.tests.get(&TestId(suite.binary_id.to_string(), t.name.clone())) else {
            continue;
        };
        mapped = true;
        for (path, f) in &m.files {
            for r in &f.lines {
                for l in r[0]..=r[1] {
                    lines.insert((path.as_str(), l));
                }
            }
            taken.extend(f.branches.iter().map(|b| (path.as_str(), *b)));
        }
    }
    if !mapped {
        return None;
    }
    let share = |n: u64, of: Option<u64>| {
        of.filter(|&e| e > 0)
            .map(|e| ((n as f64 / e as f64 * 10_000.0).round() / 100.0).min(100.0))
    };
    let n = lines.len() as u64;
    let b = outcomes.map(|_| taken.len() as u64);
    Some(Reach {
        lines: n,
        lines_percent: share(n, executable),
        branches: b,
        branches_percent: b.and_then(|b| share(b, outcomes)),
    })
}

/// Lines run, folded into inclusive ranges.
pub fn fold(lines: impl IntoIterator<Item = u32>) -> Vec<[u32; 2]> {
    let mut out: Vec<[u32; 2]> = Vec::new();
    for l in lines {
        match out.last_mut() {
            Some(r) if l == r[1] + 1 => r[1] = l,
            Some(r) if l <= r[1] => {}
            _ => out.push([l, l]),
        }
    }
    out
}

/// How many lines two texts share at their start, and then at their end
/// (never overlapping the start).
pub(crate) fn common_ends(a: &[&str], b: &[&str]) -> (usize, usize) {
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let room = a.len().min(b.len()) - prefix;
    let suffix = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take(room)
        .take_while(|(x, y)| x == y)
        .count();
    (prefix, suffix)
}

/// A stable hash of a file's content, as maps record it.
pub fn content_hash(text: &[u8]) -> String {
    // FNV-1a, 64 bits: no crate needed, stable across versions and runs.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in text {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_fold_into_ranges() {
        assert_eq!(fold([1, 2, 3, 5, 7, 8]), vec![[1, 3], [5, 5], [7, 8]]);
    }
}
