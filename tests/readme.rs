//! The README's shell examples work as written: the admin is created as "First start" says, and
//! the whole "Using the API with curl" block runs against a server. Only the address differs:
//! the examples say 127.0.0.1:8080, the test server listens on a free port.

mod common;

use common::{BIN, Server};
use std::path::Path;
use std::process::Command;

/// The ```sh blocks of the README.
fn sh_blocks(readme: &str) -> Vec<&str> {
    readme
        .split("```sh\n")
        .skip(1)
        .filter_map(|rest| rest.split_once("```").map(|(block, _)| block))
        .collect()
}

#[test]
fn the_readme_examples_work_as_written() {
    let readme = include_str!("../README.md");
    let blocks = sh_blocks(readme);
    let first_start = blocks
        .iter()
        .find(|b| b.contains("keyward admin create"))
        .expect("the README shows how to create the first admin");
    let curl = blocks
        .iter()
        .find(|b| b.contains("curl ") && b.contains("TOKEN="))
        .expect("the README has its curl examples");

    let s = Server::start();
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // The commands' default --db is ./keyward.db: the server's, when run in its directory.
    let script = format!(
        "set -eu\n{first_start}\n{}\nprintf '\\nVARS %s %s %s %s %s\\n' \"$ALICE\" \"$CLIENT\" \"$SECRET\" \"$LOCAL\" \"$REG\"\n",
        curl.replace("http://127.0.0.1:8080", &s.base)
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(s.dir.path())
        .env("PATH", path)
        .env("KEYWARD_LOG", "warn")
        .output()
        .expect("run bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");

    // Each step gave what the next one needs.
    let vars: Vec<&str> = stdout
        .lines()
        .find_map(|l| l.strip_prefix("VARS "))
        .expect("the variables")
        .split(' ')
        .collect();
    let [alice, client, secret, local, reg] = vars[..] else {
        panic!("five variables: {vars:?}\n{stdout}");
    };
    for (name, id) in [("ALICE", alice), ("CLIENT", client), ("LOCAL", local)] {
        assert!(
            uuid::Uuid::parse_str(id).is_ok(),
            "{name} is not an id: {id:?}\n{stdout}"
        );
    }
    assert_eq!(secret.len(), 43, "SECRET: {secret:?}\n{stdout}");
    assert_eq!(reg.split('.').count(), 3, "REG: {reg:?}\n{stdout}");

    // And the answers are the successes the README promises.
    assert!(stdout.contains("\"username\":\"admin\""), "{stdout}");
    assert!(stdout.contains("\"name\":\"corp\""), "{stdout}");
    assert!(stdout.contains("\"username\":\"alice\""), "{stdout}");
    assert!(stdout.contains("\"access_token\":\""), "{stdout}");
    assert!(stdout.contains("\"username\":\"bob\""), "{stdout}");
    assert!(
        !stdout.contains("\"statusCode\""),
        "an error answer: {stdout}"
    );
}
