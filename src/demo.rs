//! `vigil --demo`: a small workspace shipped inside the binary, copied to a
//! temporary directory so a newcomer sees vigil work with one command.

use std::path::{Path, PathBuf};

/// Every file of `assets/demo`, embedded at build time.
pub const FILES: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("../assets/demo/Cargo.toml")),
    ("Cargo.lock", include_str!("../assets/demo/Cargo.lock")),
    ("vigil.toml", include_str!("../assets/demo/vigil.toml")),
    ("money/Cargo.toml", include_str!("../assets/demo/money/Cargo.toml")),
    ("money/src/lib.rs", include_str!("../assets/demo/money/src/lib.rs")),
    ("orders/Cargo.toml", include_str!("../assets/demo/orders/Cargo.toml")),
    ("orders/src/lib.rs", include_str!("../assets/demo/orders/src/lib.rs")),
    (
        "orders/tests/checkout.rs",
        include_str!("../assets/demo/orders/tests/checkout.rs"),
    ),
    (
        "orders/tests/e2e_flow.rs",
        include_str!("../assets/demo/orders/tests/e2e_flow.rs"),
    ),
];

/// A copy of the demo workspace, removed when dropped.
pub struct Demo {
    root: PathBuf,
}

impl Demo {
    pub fn create() -> std::io::Result<Self> {
        let root = std::env::temp_dir().join(format!("vigil-demo-{}", std::process::id()));
        Self::write_to(&root)?;
        Ok(Self { root })
    }

    pub fn write_to(root: &Path) -> std::io::Result<()> {
        for (path, text) in FILES {
            let dest = root.join(path);
            if let Some(dir) = dest.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(dest, text)?;
        }
        Ok(())
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}
