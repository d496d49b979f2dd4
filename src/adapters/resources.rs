//! Samples CPU and memory of the running nextest process tree (sysinfo),
//! and each test process's resident memory, named by its `--exact` argument.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind};

use crate::core::ui_state::Resources;

pub(crate) struct Sampler {
    system: System,
    /// Test binary path → binary id, from the latest listing.
    binaries: HashMap<PathBuf, Arc<str>>,
}

impl Default for Sampler {
    fn default() -> Self {
        Self::new()
    }
}

impl Sampler {
    pub fn new() -> Self {
        Self {
            system: System::new(),
            binaries: HashMap::new(),
        }
    }

    pub(crate) fn set_binaries(&mut self, binaries: HashMap<PathBuf, Arc<str>>) {
        self.binaries = binaries;
    }

    /// One sample of everything below `root`. CPU needs two samples, so the
    /// first one reads 0 %.
    pub(crate) fn sample(&mut self, root: u32) -> (Resources, Vec<(Arc<str>, String, u64)>) {
        self.system.refresh_processes_specifics(
            ProcessesToUpdate::All,
            true,
            ProcessRefreshKind::nothing()
                .with_cpu()
                .with_memory()
                .with_cmd(UpdateKind::OnlyIfNotSet)
                .with_exe(UpdateKind::OnlyIfNotSet),
        );
        let mut children: HashMap<Pid, Vec<Pid>> = HashMap::new();
        for (pid, p) in self.system.processes() {
            if let Some(parent) = p.parent() {
                children.entry(parent).or_default().push(*pid);
            }
        }
        let mut res = Resources::default();
        let mut tests = Vec::new();
        let mut frontier = vec![Pid::from_u32(root)];
        while let Some(pid) = frontier.pop() {
            if let Some(p) = self.system.process(pid) {
                res.cpu_percent += p.cpu_usage();
                res.memory_bytes += p.memory();
                res.processes += 1;
                let binary = p.exe().and_then(|exe| self.binaries.get(exe));
                if let Some(binary_id) = binary {
                    let cmd = p.cmd();
                    if let Some(i) = cmd.iter().position(|a| a == "--exact") {
                        if let Some(name) = cmd.get(i + 1) {
                            tests.push((binary_id.clone(), name.to_string_lossy().into_owned(), p.memory()));
                        }
                    }
                }
            }
            if let Some(kids) = children.get(&pid) {
                frontier.extend(kids.iter().copied());
            }
        }
        (res, tests)
    }
}
