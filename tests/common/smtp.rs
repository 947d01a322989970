//! A real SMTP server process for the mail tests: `smtp_server.py` (aiosmtpd) from the tests'
//! Python venv, on a free port of 127.0.0.1, keeping what it receives in a temporary folder.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct SmtpServer {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

/// A port on 127.0.0.1 that was free a moment ago (and, as long as nobody takes it, closed).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl SmtpServer {
    /// A server that takes every message.
    pub fn start() -> SmtpServer {
        Self::spawn(false)
    }

    /// A server that keeps each message but refuses to deliver it (554 after the data).
    pub fn refusing() -> SmtpServer {
        Self::spawn(true)
    }

    fn spawn(refuse: bool) -> SmtpServer {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let python = root.join("tests/.venv/bin/python");
        assert!(
            python.exists(),
            "{} is missing: run tests/run once, it installs the tests' Python tools",
            python.display()
        );
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut cmd = Command::new(python);
        cmd.arg(root.join("tests/common/smtp_server.py"))
            .args(["--port", &port.to_string(), "--dir"])
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if refuse {
            cmd.arg("--refuse");
        }
        let mut child = cmd.spawn().expect("start the SMTP server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the SMTP server did not start");
        SmtpServer { child, port, dir }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The messages received so far, oldest first, as text.
    pub fn messages(&self) -> Vec<String> {
        let mut files: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort_by_key(|p| {
            p.file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse::<u32>().ok())
        });
        files
            .iter()
            .map(|p| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned())
            .collect()
    }

    /// Waits (up to 10 s) until `n` messages have arrived.
    pub fn wait_for(&self, n: usize) -> Vec<String> {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let m = self.messages();
            if m.len() >= n || Instant::now() > until {
                return m;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
