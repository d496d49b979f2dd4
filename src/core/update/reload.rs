//! The workspace and the config read again: manifest verdicts for the
//! change set that asked, the services reconciled, the held change set
//! placed.

use super::*;

pub(super) fn on_reloaded(
    model: &mut Model,
    workspace: Option<Box<Workspace>>,
    rules: Option<crate::core::rules::Rules>,
    error: Option<String>,
    requested: bool,
    fx: &mut Vec<Effect>,
) {
    // The change set that asked for this reload, placed once the
    // workspace is read again.
    let held = if requested { model.awaiting_reload.take() } else { None };
    if let Some(ws) = workspace {
        if let Some(h) = &held {
            let before = Workspace {
                manifests: h.baseline.clone(),
                ..model.workspace.clone()
            };
            for f in h.files.iter().filter(|f| is_manifest(&before, f)) {
                let verdict = crate::core::manifest::judge(f, &before, &ws);
                let joined = match model.manifest_verdicts.remove(f) {
                    Some(earlier) => earlier.then(verdict),
                    None => verdict,
                };
                model.manifest_verdicts.insert(f.clone(), joined);
            }
        }
        model.workspace = *ws;
        fx.push(Effect::Rewatch { workspace: true });
        fx.push(Effect::IndexInputs);
    }
    if let Some(rules) = rules {
        // Services keep what is known of them across a reload;
        // new entries start unknown, removed ones are forgotten
        // (what vigil started of them is still stopped on exit).
        let mut kept = std::mem::take(&mut model.services);
        model.services = rules
            .services
            .iter()
            .map(|spec| match kept.iter().position(|s| s.spec.name == spec.name) {
                Some(i) => {
                    let mut s = kept.swap_remove(i);
                    s.spec = spec.clone();
                    s
                }
                None => crate::core::services::Service::new(spec.clone()),
            })
            .collect();
        model.rules = rules;
        if model.watching {
            // A service never probed starts its own chain of probes.
            for i in 0..model.services.len() {
                if model.services[i].token == 0 {
                    gating::probe(model, i, Duration::ZERO, fx);
                }
            }
        }
    }
    if let Some(e) = error {
        // Whatever failed to load, nothing more is on its way.
        model.workspace.graph_pending = false;
        model.ui.note = Some(e);
    }
    if let Some(h) = held {
        // Without verdicts (the reload failed), manifests run everything.
        request_run(model, h.trigger, Selection::Changed { files: h.files }, h.at, fx);
    }
}
