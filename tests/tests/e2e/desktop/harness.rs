//! tauri-driver (which runs WebKitWebDriver, which runs the app), stopped
//! when its guard drops, on success and on every failure path alike; the
//! display and the other helpers are the tests crate's (`procs`).

use std::net::TcpStream;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

pub use authentiq_tests::procs::{Xvfb, cargo_bin_dirs, tail, tool};
use authentiq_tests::procs::{free_port, kill_group, log_file};

/// `tauri-driver` in a process group of its own, so that dropping the guard
/// also stops WebKitWebDriver and the app it started.
#[derive(Debug)]
pub struct Driver {
    child: Child,
    /// `http://127.0.0.1:<port>`
    pub url: String,
    pub log: PathBuf,
    reaped: bool,
}

impl Driver {
    pub fn start(
        tauri_driver: &Path,
        webkit_driver: &Path,
        env: &[(&str, &str)],
        log: &Path,
    ) -> anyhow::Result<Self> {
        let (port, native) = (free_port()?, free_port()?);
        let out = log_file(log)?;
        let mut cmd = Command::new(tauri_driver);
        cmd.arg("--port")
            .arg(port.to_string())
            .arg("--native-port")
            .arg(native.to_string())
            .arg("--native-driver")
            .arg(webkit_driver)
            .envs(env.iter().copied())
            // X11 only (Xvfb), and no accessibility bus to outlive the test.
            .env_remove("WAYLAND_DISPLAY")
            .env("GDK_BACKEND", "x11")
            .env("NO_AT_BRIDGE", "1")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .process_group(0);
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", tauri_driver.display()))?;
        let mut driver = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log: log.to_path_buf(),
            reaped: false,
        };
        // Both must listen: tauri-driver drops the connection, without an
        // answer, of a request it cannot pass on to WebKitWebDriver yet
        // (which starts more slowly on a busy machine).
        let until = Instant::now() + Duration::from_secs(15);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok()
                && TcpStream::connect(("127.0.0.1", native)).is_ok()
            {
                return Ok(driver);
            }
            if let Ok(Some(status)) = driver.child.try_wait() {
                // Reaped: what is left of its group goes now, not in drop.
                driver.reaped = true;
                kill_group(driver.child.id(), "KILL");
                bail!(
                    "tauri-driver exited ({status}); its log {}:\n{}",
                    log.display(),
                    tail(log, 30)
                );
            }
            if Instant::now() > until {
                bail!(
                    "tauri-driver (port {port}) or WebKitWebDriver (port {native}) does not \
                     listen after 15 s; the log {}:\n{}",
                    log.display(),
                    tail(log, 30)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Driver {
    /// TERM to the group (tauri-driver, WebKitWebDriver, the app), a moment,
    /// then KILL to whatever is left of it. tauri-driver is reaped only after
    /// that, so its id (the group's) cannot have been reused meanwhile.
    fn drop(&mut self) {
        if self.reaped {
            return;
        }
        let pgid = self.child.id();
        kill_group(pgid, "TERM");
        std::thread::sleep(Duration::from_millis(500));
        kill_group(pgid, "KILL");
        let _ = self.child.wait();
    }
}
