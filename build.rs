//! Stamps the binary with the git commit it was built from, for `keyward --version`. Outside a
//! git checkout (a source tarball) or without git, the commit reads `unknown`; `KEYWARD_COMMIT`
//! in the build environment overrides both (for packagers who build from an export).

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=KEYWARD_COMMIT");
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    // Rebuild when HEAD moves (a commit, a checkout). HEAD is in the git directory, branch refs
    // in the common one (they differ in a worktree). Only files that exist are named: cargo
    // reruns a build script for a missing one every time.
    let dir = git(&["rev-parse", "--git-dir"]);
    let common = git(&["rev-parse", "--git-common-dir"]);
    let branch = git(&["symbolic-ref", "-q", "HEAD"]);
    let watched = [
        dir.as_ref().map(|d| format!("{d}/HEAD")),
        common
            .as_ref()
            .zip(branch.as_ref())
            .map(|(c, b)| format!("{c}/{b}")),
        common.as_ref().map(|c| format!("{c}/packed-refs")),
    ];
    for path in watched.into_iter().flatten() {
        if std::path::Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
    let commit = std::env::var("KEYWARD_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    println!("cargo:rustc-env=KEYWARD_VERSION={version} (commit {commit})");
}
