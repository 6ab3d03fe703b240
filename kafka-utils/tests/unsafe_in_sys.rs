//! `unsafe` lives in `src/sys/` only: every other source file of the crate is under the
//! workspace's `unsafe_code = "deny"`, and none allows it again.

use std::path::{Path, PathBuf};

fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir)
        .expect("a source directory")
        .flatten()
    {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn no_source_outside_sys_allows_or_writes_unsafe() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(files.len() > 20, "the crate's sources: {files:?}");
    let mut offenders = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap_or(file);
        if relative.starts_with("sys") {
            continue;
        }
        let text = std::fs::read_to_string(file).expect("a source file");
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let declares_sys =
                relative == Path::new("lib.rs") && code.contains("allow(unsafe_code)");
            let next_is_sys = text
                .lines()
                .nth(number + 1)
                .is_some_and(|next| next.trim() == "mod sys;");
            if declares_sys && next_is_sys {
                continue;
            }
            if code.contains("unsafe") {
                offenders.push(format!(
                    "{}:{}: {}",
                    relative.display(),
                    number + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "unsafe outside src/sys/:\n{}",
        offenders.join("\n")
    );
}
