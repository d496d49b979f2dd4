//! What the engine reads as it starts: the history (pruned as it opens),
//! the coverage set-up the config and the machine allow, a shard's index.

use super::*;

/// `history.keep` as the user reads it.
pub(super) fn describe_keep(keep: crate::config::Keep) -> String {
    match keep {
        crate::config::Keep::Runs(n) => format!("the last {n} runs"),
        crate::config::Keep::Days(d) => format!("the last {d} days"),
    }
}

/// The history and the last coverage kept (deltas hold across sessions);
/// what cannot be read is logged and left empty.
pub(super) fn load_history(
    path: &std::path::Path,
    keep: String,
    pruned: u64,
) -> (
    Box<crate::core::history::History>,
    Option<(i64, Box<crate::core::coverage::Coverage>)>,
) {
    let Ok((s, _)) = Store::open(path) else {
        return (Box::default(), None);
    };
    let mut history: crate::core::history::History = s.history_cached(&store::cache_path(path)).unwrap_or_else(|e| {
        tracing::info!("history not read: {e}");
        Default::default()
    });
    // Its size, for the history view.
    if let Ok((runs, bytes)) = s.size() {
        history.kept = Some(crate::core::history::Kept {
            runs,
            bytes,
            keep,
            pruned,
        });
    }
    let coverage = s.last_coverage().ok().flatten().map(|(run, c)| {
        let cov = Box::new(crate::core::coverage::Coverage {
            branches_measured: c.branches.is_some(),
            files: c
                .files
                .into_iter()
                .map(|(path, l, b)| crate::core::coverage::FileCoverage {
                    path,
                    summary_lines: Some(l),
                    summary_branches: b,
                    ..Default::default()
                })
                .collect(),
        });
        (run, cov)
    });
    (Box::new(history), coverage)
}

/// The coverage set-up the config and the machine allow, or why none.
pub(super) fn coverage_rig(ws: &Workspace, settings: &Settings) -> (Option<CoverageRig>, Option<String>) {
    if settings.coverage == Mode::Off {
        return (None, None);
    }
    match crate::adapters::llvm::discover(&ws.root) {
        Ok(tools) => {
            let nightly = crate::adapters::process::nightly(&ws.root, &[]);
            let branch = match settings.branch {
                Mode::On => true,
                Mode::Off => false,
                Mode::Auto => nightly,
            };
            let mut rig = CoverageRig::new(ws, tools, branch);
            rig.base = settings.coverage_base.clone();
            if !settings.trace_reads {
                rig.tracer = Err("read tracing is off (`coverage.reads = false`)".into());
            }
            (Some(rig), None)
        }
        Err(why) => (None, Some(why.to_string())),
    }
}

/// M of a nextest partition `kind:M/N`.
pub(super) fn partition_index(spec: Option<&str>) -> Option<u32> {
    let (_, rest) = spec?.split_once(':')?;
    rest.split_once('/')?.0.trim().parse().ok()
}
