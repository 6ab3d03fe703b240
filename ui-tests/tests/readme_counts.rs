//! The README says how many compile-fail cases each ui-test crate holds: as many as there are.

use std::path::Path;

/// The `.rs` files under `dir`, at any depth.
fn cases(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .map(|path| {
            if path.is_dir() {
                cases(&path)
            } else {
                usize::from(path.extension().is_some_and(|e| e == "rs"))
            }
        })
        .sum()
}

#[test]
fn the_readme_counts_the_ui_cases() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md"))
        .expect("README.md")
        .replace('\n', " ");
    let declaration = cases(&root.join("ui-tests/tests/fail"));
    let runtime = cases(&root.join("ui-tests-runtime/tests/fail"));
    for claim in [
        format!("`ui-tests/tests/fail/` holds {declaration},"),
        format!("`ui-tests-runtime/tests/fail/` holds {runtime} more"),
    ] {
        assert!(readme.contains(&claim), "README.md should say {claim}");
    }
}
