//! `keyward --version`: the version and the git commit the binary was built from (build.rs),
//! and `unknown` when the build has no git to ask.

mod common;

use common::BIN;
use std::path::PathBuf;
use std::process::Command;

fn git_head() -> Option<String> {
    let out = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[test]
fn version_names_the_release_and_the_commit() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    assert!(out.status.success());
    let line = String::from_utf8(out.stdout).unwrap();
    let want = match git_head() {
        Some(c) => format!("keyward {} (commit {c})\n", env!("CARGO_PKG_VERSION")),
        // A build outside a checkout: the fallback.
        None => format!("keyward {} (commit unknown)\n", env!("CARGO_PKG_VERSION")),
    };
    assert_eq!(line, want);
}

/// The build script of this very build, run again where there is neither git nor a checkout.
#[test]
fn without_git_the_commit_is_unknown() {
    let build = PathBuf::from(BIN).parent().unwrap().join("build");
    let script = std::fs::read_dir(&build)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("keyward-"))
        .map(|e| e.path().join("build-script-build"))
        .filter(|p| p.exists())
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok())
        .expect("the build script of keyward");
    let empty = tempfile::tempdir().unwrap();
    let run = |path: &str, commit: Option<&str>| {
        let mut cmd = Command::new(&script);
        cmd.current_dir(empty.path())
            .env_clear()
            .env("PATH", path)
            .env("CARGO_PKG_VERSION", "9.8.7");
        if let Some(c) = commit {
            cmd.env("KEYWARD_COMMIT", c);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    // No git on the PATH at all.
    let none = run(empty.path().to_str().unwrap(), None);
    assert!(
        none.lines()
            .any(|l| l == "cargo:rustc-env=KEYWARD_VERSION=9.8.7 (commit unknown)"),
        "{none}"
    );
    // git there, but not a checkout.
    let outside = run("/usr/bin:/bin", None);
    assert!(outside.contains("(commit unknown)"), "{outside}");
    // A packager's export names the commit itself.
    let named = run("/usr/bin:/bin", Some("abc123"));
    assert!(named.contains("=9.8.7 (commit abc123)"), "{named}");
}
