//! The test harness: starts the real keyward binary on a free port with a fresh database in a
//! temporary directory, and talks HTTP to it.
#![allow(dead_code)]

pub mod smtp;
pub mod softkey;
pub mod upstream;

use reqwest::blocking::{Client, Response};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_keyward");

/// reqwest is built with rustls but without a default crypto provider (keyward installs ring
/// at start, see `strategies::provider`); a test process installs the same before its first
/// HTTP client.
pub fn tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Cheap argon2 parameters keep the suite fast; the hashing itself is the same code.
pub const FAST_HASH: &[&str] = &["--argon2-memory", "256", "--argon2-iterations", "1"];

pub struct Server {
    child: Child,
    pub base: String,
    pub dir: tempfile::TempDir,
    lines: Arc<Mutex<Vec<String>>>,
    pub http: Client,
}

impl Server {
    /// The id of the strategy instance named `name`, from the public instance list.
    pub fn instance_id(&self, name: &str) -> String {
        let list: Value = self
            .get("/auth/api/login/strategy-instance", None)
            .json()
            .unwrap();
        list.as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == name)
            .unwrap_or_else(|| panic!("no instance {name}: {list}"))["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub fn start() -> Server {
        Self::start_with(&[])
    }

    pub fn start_with(extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        Self::start_in(dir, extra)
    }

    /// Starts the server on an existing directory (e.g. with a prepared database).
    pub fn start_in(dir: tempfile::TempDir, extra: &[&str]) -> Server {
        tls();
        let db = dir.path().join("keyward.db");
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--db"])
            .arg(&db)
            .args(if extra.contains(&"--argon2-memory") {
                &[][..]
            } else {
                FAST_HASH
            })
            .args(extra)
            .env("KEYWARD_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start keyward");
        let out = child.stdout.take().expect("stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("keyward listening on ") {
                    let _ = tx.send(rest.split(' ').next().unwrap_or_default().to_string());
                }
                sink.lock().unwrap().push(line);
            }
        });
        let base = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("keyward did not start: {:?}", lines.lock().unwrap()));
        Server {
            child,
            base,
            dir,
            lines,
            http: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    /// What the server printed so far, waiting up to two seconds for a line containing `want`.
    pub fn stdout_with(&self, want: &str) -> Vec<String> {
        for _ in 0..40 {
            let lines = self.lines.lock().unwrap().clone();
            if lines.iter().any(|l| l.contains(want)) {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.lines.lock().unwrap().clone()
    }

    /// The public URL the server announced (by default `http://localhost:{port}` for its
    /// loopback address): the issuer of its tokens and the base of its links.
    pub fn public_url(&self) -> String {
        self.stdout_with("(public URL ")
            .iter()
            .find_map(|l| {
                l.split_once("(public URL ")
                    .map(|(_, u)| u.trim_end_matches(')').to_string())
            })
            .expect("the server names its public URL")
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("keyward.db")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Runs a keyward subcommand against this server's database.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .arg("--db")
            .arg(self.db_path())
            .env("KEYWARD_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("run keyward");
        if let Some(s) = stdin {
            child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        } else {
            drop(child.stdin.take());
        }
        child.wait_with_output().unwrap()
    }

    /// Creates an admin through the CLI and returns an access token for it.
    pub fn admin(&self, username: &str) -> String {
        let mut args = vec![
            "admin",
            "create",
            "--username",
            username,
            "--password-stdin",
        ];
        args.extend_from_slice(FAST_HASH);
        let out = self.cli(&args, Some("correct horse battery\n"));
        assert!(
            out.status.success(),
            "admin create: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.token(username, "login")
    }

    pub fn token(&self, username: &str, scope: &str) -> String {
        let out = self.cli(
            &["admin", "token", "--username", username, "--scope", scope],
            None,
        );
        assert!(
            out.status.success(),
            "admin token: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// Creates a plain user (as `admin`) with a password and returns (id, token).
    pub fn user(&self, admin: &str, username: &str) -> (String, String) {
        let r = self.post(
            "/auth/api/login/user",
            Some(admin),
            &json!({"username": username, "displayName": username, "password": "password-of-user"}),
        );
        assert_eq!(r.status(), 201);
        let id = r.json::<Value>().unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        (id, self.token(username, "login"))
    }

    /// Creates an OAuth client (as `admin`) and returns its id.
    pub fn new_client(&self, admin: &str, body: &Value) -> String {
        let r = self.post("/auth/api/login/client", Some(admin), body);
        assert_eq!(r.status(), 201, "{:?}", r.text());
        r.json::<Value>().unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Creates a secret for client `id` (as `admin`) and returns its text.
    pub fn new_secret(&self, admin: &str, id: &str) -> String {
        let path = format!("/auth/api/login/client/{id}/client-secret");
        let r = self.post(&path, Some(admin), &json!({}));
        assert_eq!(r.status(), 201);
        r.json::<Value>().unwrap()["secretText"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Creates a client with a secret; returns (id, secret).
    pub fn client_with_secret(&self, admin: &str, body: &Value) -> (String, String) {
        let id = self.new_client(admin, body);
        let secret = self.new_secret(admin, &id);
        (id, secret)
    }

    /// A password grant, the client authenticated with HTTP Basic.
    pub fn password_grant(
        &self,
        client: &(String, String),
        username: &str,
        password: &str,
        scope: Option<&str>,
    ) -> Response {
        let mut form = vec![
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
        ];
        form.extend(scope.map(|s| ("scope", s)));
        self.http
            .post(self.url("/auth/oauth/token"))
            .basic_auth(&client.0, Some(&client.1))
            .form(&form)
            .send()
            .expect("request")
    }

    pub fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Response {
        let mut rb = self.http.request(method.parse().unwrap(), self.url(path));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(b);
        }
        rb.send().expect("request")
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.send("GET", path, token, None)
    }
    pub fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        self.send("POST", path, token, Some(body))
    }
    pub fn put(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        self.send("PUT", path, token, Some(body))
    }
    pub fn delete(&self, path: &str, token: Option<&str>) -> Response {
        self.send("DELETE", path, token, None)
    }

    /// Stops the server and hands over its directory, to start another server on the same data.
    pub fn stop_keep_dir(mut self) -> tempfile::TempDir {
        unsafe_kill(self.child.id(), "TERM");
        let _ = self.child.wait();
        std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap())
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn stop(mut self) -> std::process::ExitStatus {
        unsafe_kill(self.child.id(), "TERM");
        self.child.wait().unwrap()
    }
}

fn unsafe_kill(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status();
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Asserts the status and the login API's error shape; returns the message.
pub fn expect_error(r: Response, status: u16) -> String {
    assert_eq!(r.status().as_u16(), status, "unexpected status");
    let v: Value = r.json().expect("JSON error body");
    assert_eq!(v["statusCode"], status, "{v}");
    assert!(v["error"].is_string(), "{v}");
    v["message"].as_str().expect("message").to_string()
}

/// Asserts the status and the OAuth error shape (RFC 6749, 5.2).
pub fn oauth_error(r: Response, status: u16, code: &str) {
    assert_eq!(r.status().as_u16(), status);
    let v: Value = r.json().unwrap();
    assert_eq!(v["error"], code, "{v}");
    assert!(v["error_description"].is_string());
}

/// The claims of a JWT, without checking anything.
pub fn jwt_claims(token: &str) -> Value {
    use base64::Engine;
    let part = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}
