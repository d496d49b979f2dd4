//! Run requests: a run asked for (by a change, a key, a service), queued behind the one in flight, stopped.

use super::*;

pub(super) fn request_run(
    model: &mut Model,
    trigger: Trigger,
    selection: Selection,
    at: Duration,
    fx: &mut Vec<Effect>,
) {
    // Any request means the workspace is not idle: a sweep timer set
    // before it comes back to nothing.
    model.sweep.token += 1;
    if let Selection::Changed { files } = &selection {
        // Manifests are placed by what changed in them: the workspace is
        // read again first, and the change set waits for it (a change set
        // that comes meanwhile joins it).
        let unread = files.iter().any(|f| {
            is_manifest(&model.workspace, f)
                && (model.manifests_stale.contains(f) || !model.manifest_verdicts.contains_key(f))
        });
        if let Some(held) = &mut model.awaiting_reload {
            merge_paths(&mut held.files, files);
            return;
        }
        if unread {
            for f in files {
                model.manifests_stale.remove(f);
            }
            model.awaiting_reload = Some(AwaitingReload {
                trigger,
                files: files.clone(),
                at,
                baseline: model.workspace.manifests.clone(),
            });
            fx.push(Effect::Reload);
            return;
        }
        if narrows(model) {
            // Placed against the maps once the texts are read (a few ms).
            match &mut model.awaiting_texts {
                Some((_, waiting, _)) => merge_paths(waiting, files),
                None => model.awaiting_texts = Some((trigger, files.clone(), at)),
            }
            read_texts(model, fx);
            return;
        }
    }
    start_request(model, trigger, selection, at, None, fx);
}

/// Reruns what services that came back had blocked (watching, idle).
pub(super) fn rerun_unblocked(model: &mut Model, at: Duration, fx: &mut Vec<Effect>) {
    if let Some(selection) = gating::unblocked(model) {
        request_run(model, Trigger::Service, selection, at, fx);
    }
}

/// A manifest of the workspace (the root's, a local package's) or its
/// lock file, whose text was read with the workspace.
pub(super) fn is_manifest(ws: &Workspace, path: &std::path::Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    (name == "Cargo.toml" || name == "Cargo.lock") && ws.manifests.contains_key(path)
}

/// The texts a waiting change set needs: the changed files now, and the
/// versions the maps of its Rust files were measured on.
pub(super) fn read_texts(model: &Model, fx: &mut Vec<Effect>) {
    let Some((_, files, _)) = &model.awaiting_texts else {
        return;
    };
    let mut versions: Vec<(String, String)> = files
        .iter()
        .map(|f| relative(&model.workspace, f))
        .flat_map(|p| {
            model
                .test_maps
                .tests
                .values()
                .filter_map(move |m| m.files.get(&p).map(|f| (p.clone(), f.hash.clone())))
        })
        .collect();
    versions.sort();
    versions.dedup();
    fx.push(Effect::ReadTexts {
        files: files.clone(),
        versions,
    });
}

pub(super) fn on_texts_read(model: &mut Model, texts: Texts, fx: &mut Vec<Effect>) {
    let Some((trigger, files, at)) = model.awaiting_texts.take() else {
        return;
    };
    let complete = files
        .iter()
        .all(|f| texts.current.contains_key(&relative(&model.workspace, f)));
    if !complete {
        // More changes came while these were read: read them all.
        model.awaiting_texts = Some((trigger, files, at));
        read_texts(model, fx);
        return;
    }
    start_request(model, trigger, Selection::Changed { files }, at, Some(&texts), fx);
}

/// Stops the run in flight, if any. One still waiting for its services
/// has no `nextest run` to stop: it ends here, cancelled.
pub(super) fn stop_run(model: &mut Model, at: Duration, fx: &mut Vec<Effect>) {
    let Some(r) = model.runs.last_mut().filter(|r| r.is_active() && !r.cancel_requested) else {
        return;
    };
    if !matches!(r.services, ServiceWait::Waiting(_)) {
        stop(r, fx);
        return;
    }
    r.services = ServiceWait::Abandoned;
    r.cancel_requested = true;
    r.awaiting_services.clear();
    let run = r.number;
    if r.phase.building() {
        // Its list (if one runs) is stopped; it never said it started.
        emit_run_started(&model.workspace, r, fx);
        fx.push(Effect::Cancel { run });
    }
    finish_run(model, run, Outcome::Cancelled, at, fx);
}

/// Stops a run in flight. Once its build is done and only its list is still
/// to come, the list is let finish, so its tests are counted as cancelled
/// by name rather than lost.
pub(super) fn stop(r: &mut Run, fx: &mut Vec<Effect>) {
    r.cancel_requested = true;
    if r.phase == (Phase::Building { built: true }) && !r.provisional {
        fx.push(Effect::StopTests { run: r.number });
    } else {
        fx.push(Effect::Cancel { run: r.number });
    }
}

/// Adds the paths of `more` that `into` lacks.
pub(super) fn merge_paths(into: &mut Vec<PathBuf>, more: &[PathBuf]) {
    for p in more {
        if !into.contains(p) {
            into.push(p.clone());
        }
    }
}
