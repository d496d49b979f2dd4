//! cargo's resolved dependency graph — the graph nextest's `rdeps()` follows:
//! every package of the resolve (members, path dependencies, registry and git
//! crates), with the edges cargo resolved, including `[patch]`/`[replace]`
//! overrides, renamed, build-, dev- and target-specific dependencies. Used to
//! explain a selection ("`app`'s tests reach `scopeguard` through
//! `lock_api`") and to find the members behind a package nextest cannot name
//! (a path dependency outside the workspace).

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;

/// How one package depends on another (one edge may carry several).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DepKind {
    Normal,
    Dev,
    Build,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edge {
    /// Index of the package depended on.
    pub to: usize,
    /// Each kind with the platform it is limited to (`cfg(unix)`), if any.
    pub kinds: Vec<(DepKind, Option<String>)>,
    /// The name the dependent uses for it, when that is not its own.
    pub rename: Option<String>,
    /// The override that put this package there (`[patch.crates-io]`,
    /// `[replace]`), when the dependent asked for another source.
    pub patched: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    /// Its version, as resolved (`""` where not known).
    pub version: String,
    /// A workspace member: nextest's filtersets can name it.
    pub member: bool,
    /// A package on disk (a member or a path dependency): its directory.
    pub dir: Option<PathBuf>,
    pub deps: Vec<Edge>,
}

/// A member that depends on a package, with the way it gets there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dependent {
    pub member: String,
    /// From the member to the package, both included.
    pub chain: Vec<usize>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Graph {
    pub nodes: Vec<Node>,
    /// Reverse edges: for each node, the nodes that depend on it.
    users: Vec<Vec<usize>>,
    by_name: HashMap<String, Vec<usize>>,
}

impl Graph {
    pub fn new(nodes: Vec<Node>) -> Self {
        let mut users = vec![Vec::new(); nodes.len()];
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, n) in nodes.iter().enumerate() {
            by_name.entry(n.name.clone()).or_default().push(i);
            for e in &n.deps {
                if e.to < nodes.len() && !users[e.to].contains(&i) {
                    users[e.to].push(i);
                }
            }
        }
        Self { nodes, users, by_name }
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The local package (member first) called `name`.
    pub fn local(&self, name: &str) -> Option<usize> {
        let found = self.by_name.get(name)?;
        found
            .iter()
            .copied()
            .filter(|&i| self.nodes[i].dir.is_some())
            .max_by_key(|&i| self.nodes[i].member)
    }

    /// Every member that depends on `start`, directly or through any other
    /// packages, each with one shortest chain; sorted by member name.
    pub fn dependents(&self, start: usize) -> Vec<Dependent> {
        // Breadth first over reverse edges: `toward[n]` is the next node on
        // a shortest way from `n` to `start`.
        let mut toward: HashMap<usize, usize> = HashMap::new();
        let mut queue = VecDeque::from([start]);
        let mut found = Vec::new();
        while let Some(n) = queue.pop_front() {
            for &user in &self.users[n] {
                if user == start || toward.contains_key(&user) {
                    continue;
                }
                toward.insert(user, n);
                queue.push_back(user);
                if self.nodes[user].member {
                    let mut chain = vec![user];
                    let mut at = user;
                    while at != start {
                        at = toward[&at];
                        chain.push(at);
                    }
                    found.push(Dependent {
                        member: self.nodes[user].name.clone(),
                        chain,
                    });
                }
            }
        }
        found.sort_by(|a, b| a.member.cmp(&b.member));
        found
    }

    fn edge(&self, from: usize, to: usize) -> Option<&Edge> {
        self.nodes[from].deps.iter().find(|e| e.to == to)
    }

    /// Says how a chain from `dependents` gets from its member to its end:
    /// "`web` depends on `scopeguard` (through `[patch.crates-io]`)",
    /// "`app`'s tests reach `scopeguard` through `lock_api`".
    pub(crate) fn explain(&self, chain: &[usize]) -> String {
        let name = |i: usize| self.nodes[i].name.as_str();
        let (Some(&first), Some(&last)) = (chain.first(), chain.last()) else {
            return String::new();
        };
        let first_edge = chain.get(1).and_then(|&next| self.edge(first, next));
        let only = |k: DepKind| first_edge.is_some_and(|e| !e.kinds.is_empty() && e.kinds.iter().all(|(x, _)| *x == k));
        let subject = if only(DepKind::Dev) {
            format!("`{}`'s tests", name(first))
        } else if only(DepKind::Build) {
            format!("`{}`'s build script", name(first))
        } else {
            format!("`{}`", name(first))
        };
        let plural = subject.ends_with("tests`") || subject.ends_with("'s tests");
        let mut text = if chain.len() <= 2 {
            let verb = if plural { "depend on" } else { "depends on" };
            format!("{subject} {verb} `{}`", name(last))
        } else {
            let verb = if plural { "reach" } else { "reaches" };
            let through: Vec<String> = chain[1..chain.len() - 1]
                .iter()
                .map(|&i| format!("`{}`", name(i)))
                .collect();
            format!("{subject} {verb} `{}` through {}", name(last), through.join(" → "))
        };
        let mut notes = Vec::new();
        if let Some(e) = first_edge {
            if let Some(r) = &e.rename {
                notes.push(format!("`{}` renamed `{r}`", name(e.to)));
            }
            let targets: Vec<&str> = e.kinds.iter().filter_map(|(_, t)| t.as_deref()).collect();
            if !targets.is_empty() && targets.len() == e.kinds.len() {
                notes.push(format!("on `{}`", targets.join("`, `")));
            }
        }
        let last_edge = chain.len().checked_sub(2).and_then(|i| self.edge(chain[i], last));
        if let Some(p) = last_edge.and_then(|e| e.patched.as_ref()) {
            notes.push(format!("through `{p}`"));
        }
        if !notes.is_empty() {
            text.push_str(&format!(" ({})", notes.join(", ")));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, member: bool, deps: Vec<Edge>) -> Node {
        Node {
            name: name.into(),
            version: "0.1.0".into(),
            member,
            dir: member.then(|| PathBuf::from(name)),
            deps,
        }
    }

    fn edge(to: usize, kind: DepKind) -> Edge {
        Edge {
            to,
            kinds: vec![(kind, None)],
            rename: None,
            patched: None,
        }
    }

    /// 0 scopeguard (member), 1 lock_api (registry), 2 web (member, patch),
    /// 3 app (member, dev → lock_api), 4 alias (member, web renamed).
    fn sample() -> Graph {
        let mut patched = edge(0, DepKind::Normal);
        patched.patched = Some("[patch.crates-io]".into());
        let mut renamed = edge(2, DepKind::Normal);
        renamed.rename = Some("helper".into());
        Graph::new(vec![
            node("scopeguard", true, vec![]),
            node("lock_api", false, vec![edge(0, DepKind::Normal)]),
            node("web", true, vec![patched]),
            node("app", true, vec![edge(1, DepKind::Dev)]),
            node("alias", true, vec![renamed]),
        ])
    }

    #[test]
    fn dependents_follow_registry_crates_and_say_how() {
        let g = sample();
        let found = g.dependents(0);
        let said: Vec<(String, String)> = found.iter().map(|d| (d.member.clone(), g.explain(&d.chain))).collect();
        assert_eq!(
            said,
            vec![
                (
                    "alias".to_string(),
                    "`alias` reaches `scopeguard` through `web` (`web` renamed `helper`, through `[patch.crates-io]`)"
                        .to_string()
                ),
                (
                    "app".to_string(),
                    "`app`'s tests reach `scopeguard` through `lock_api`".to_string()
                ),
                (
                    "web".to_string(),
                    "`web` depends on `scopeguard` (through `[patch.crates-io]`)".to_string()
                ),
            ]
        );
    }

    #[test]
    fn a_package_nothing_uses_has_no_dependents() {
        let g = sample();
        assert!(g.dependents(4).is_empty());
        assert_eq!(g.local("web"), Some(2));
        assert_eq!(g.local("lock_api"), None, "a registry crate is not local");
    }
}
