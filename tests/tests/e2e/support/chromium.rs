//! Node scripts in `tests/browser/` that drive Debian's Chromium (headless,
//! through playwright-core), and their line protocol on stdout; the sign-in
//! page up to the request pushed to the device, which the scripts share
//! (`tests/browser/common.mjs`: `NUMBER <n>`, then `PUSHED`).
//!
//! Needs `/usr/bin/chromium` and `tests/browser/node_modules`: `bash .ci/setup
//! test` installs both. Screenshots go to `tests/artifacts/browser/`.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use authentiq_protocol::payloads::SignInRequest;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use super::device::Device;
use super::provider::Provider;

const CHROMIUM: &str = "/usr/bin/chromium";
/// The longest wait for the script's next line (its own steps time out
/// after 20 s each, and it says so).
const LINE_TIMEOUT: Duration = Duration::from_secs(45);

/// See `procs::one_window_at_a_time`.
pub async fn one_at_a_time() -> std::fs::File {
    tokio::task::spawn_blocking(authentiq_tests::procs::one_window_at_a_time)
        .await
        .unwrap()
        .unwrap()
}

pub fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("browser")
}

pub fn artifacts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts/browser")
}

/// `node tests/browser/<script> …`, and its line protocol.
pub struct Script {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Lines<BufReader<ChildStdout>>,
    stderr: Arc<Mutex<String>>,
    stderr_done: Option<tokio::task::JoinHandle<()>>,
}

impl Script {
    /// Runs `tests/browser/<name>` with `args`.
    pub fn start(name: &str, args: &[&str]) -> Self {
        assert!(
            Path::new(CHROMIUM).exists(),
            "{CHROMIUM} is missing: install Debian's chromium (`bash .ci/setup test` does)"
        );
        let dir = browser_dir();
        assert!(
            dir.join("node_modules/playwright-core").is_dir(),
            "{} is missing: run `npm ci` there (`bash .ci/setup test` does)",
            dir.join("node_modules").display()
        );
        let mut child = Command::new("node")
            .arg(dir.join(name))
            .args(args)
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start node (Node.js 20+ on PATH?): {e}"));
        let stdin = child.stdin.take();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().unwrap();
        let sink = stderr.clone();
        let stderr_done = tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Self {
            child,
            stdin,
            lines,
            stderr,
            stderr_done: Some(stderr_done),
        }
    }

    /// The next line, which must start with `want`; what follows it.
    pub async fn expect(&mut self, want: &str) -> String {
        let line = match tokio::time::timeout(LINE_TIMEOUT, self.lines.next_line()).await {
            Ok(Ok(Some(line))) => line,
            Ok(Ok(None)) => match self.fail(&format!("the script ended before {want}")).await {},
            Ok(Err(e)) => match self
                .fail(&format!("reading the script before {want}: {e}"))
                .await {},
            Err(_) => {
                let msg = format!("no {want} from the script within {LINE_TIMEOUT:?}");
                match self.fail(&msg).await {}
            }
        };
        match line.strip_prefix(want) {
            Some(rest) => rest.trim().to_string(),
            None => {
                let msg = format!("expected {want} from the script, got {line:?}");
                match self.fail(&msg).await {}
            }
        }
    }

    /// Writes `line` to the script's standard input.
    pub async fn send(&mut self, line: &str) {
        use tokio::io::AsyncWriteExt;
        let sent = match self.stdin.as_mut() {
            Some(stdin) => stdin.write_all(format!("{line}\n").as_bytes()).await,
            None => Err(std::io::Error::other("its stdin is closed")),
        };
        if let Err(e) = sent {
            match self
                .fail(&format!("cannot send {line:?} to the script: {e}"))
                .await {}
        }
    }

    /// Stops the script (its browser with it) and panics with `msg`, its
    /// exit status and everything it wrote on stderr.
    pub async fn fail(&mut self, msg: &str) -> Infallible {
        let status = self.stop().await;
        panic!(
            "{msg}\n  script: {status}\n  script stderr:\n{}",
            self.stderr_text().await
        );
    }

    /// Closes the script's standard input (it then closes its browser and
    /// exits 3), waits a little, and kills it if it is still there.
    pub async fn stop(&mut self) -> String {
        drop(self.stdin.take());
        match tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await {
            Ok(Ok(status)) => status.to_string(),
            Ok(Err(e)) => format!("cannot wait for it: {e}"),
            Err(_) => {
                let _ = self.child.kill().await;
                "killed: it did not stop within 10 s of its stdin closing".into()
            }
        }
    }

    pub async fn stderr_text(&mut self) -> String {
        if let Some(done) = self.stderr_done.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), done).await;
        }
        self.stderr.lock().unwrap().clone()
    }

    /// After `DONE`: the script must exit 0 by itself.
    pub async fn finish(&mut self) {
        let status = match tokio::time::timeout(Duration::from_secs(15), self.child.wait()).await {
            Ok(Ok(status)) => status,
            Ok(Err(e)) => match self.fail(&format!("cannot wait for the script: {e}")).await {},
            Err(_) => match self.fail("the script did not exit after DONE").await {},
        };
        if !status.success() {
            let msg = format!("the script said DONE but exited with {status}");
            match self.fail(&msg).await {}
        }
        if let Ok(Some(extra)) = self.lines.next_line().await {
            let msg = format!("the script wrote after DONE: {extra:?}");
            match self.fail(&msg).await {}
        }
    }
}

impl Drop for Script {
    /// A panic anywhere in a test: close the script's stdin so it closes the
    /// browser, give it a moment, then kill it (`kill_on_drop` is the last
    /// resort).
    fn drop(&mut self) {
        if self.stdin.take().is_none() {
            return; // stopped already
        }
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.start_kill();
    }
}

/// The sign-in page up to the request pushed to `device` (the script's
/// `NUMBER <n>` and `PUSHED`): the request the device received, for
/// `client_id`, and the number the page shows, which the request offers.
pub async fn pushed_request(
    script: &mut Script,
    p: &Provider,
    device: &mut Device,
    client_id: &str,
) -> (SignInRequest, u16) {
    let number = script.expect("NUMBER ").await;
    let number: u16 = match number.parse() {
        Ok(n) => n,
        Err(_) => match script.fail(&format!("not a number: {number:?}")).await {},
    };
    script.expect("PUSHED").await;
    let req = match device.try_next_request(p).await {
        Ok(req) => req,
        Err(e) => match script.fail(&format!("the device: {e:#}")).await {},
    };
    if !req.numbers.contains(&number) {
        let msg = format!("the page shows {number}, the device got {:?}", req.numbers);
        match script.fail(&msg).await {}
    }
    if req.client.client_id != client_id {
        let msg = format!(
            "the request is for {:?}, not {client_id:?}",
            req.client.client_id
        );
        match script.fail(&msg).await {}
    }
    (req, number)
}
