//! What the D-Bus integration tests share: a private home and session bus
//! per test, the system tools they need, and child probes.
//!
//! A probe is this very test binary run again (`current_exe()`) with only
//! one `#[test]` selected, an `#[ignore]`d one (so that it is no test of its
//! own in an ordinary run: the probe's parent runs it with `--ignored`), and
//! an environment variable that tells that test to act as the probe: it then
//! does one thing with the real product code, prints one line `probe: …` and
//! exits with a code of its own. The parent requires that line: a probe that
//! did not run (a wrong name, a filter that selected nothing) fails the
//! parent. That way the code under test runs as a separate process, with its
//! own environment (the session bus address is read from the environment),
//! without a helper binary shipped in the package and without a nested cargo.

#![allow(dead_code)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Debian packages that provide each tool (`bash .ci/setup test` installs them).
const TOOLS: [(&str, &str); 5] = [
    ("dbus-run-session", "dbus"),
    ("dbus-daemon", "dbus"),
    ("dbus-send", "dbus"),
    ("gnome-keyring-daemon", "gnome-keyring"),
    ("python3", "python3-dbusmock"),
];

/// The absolute path of a system tool, or a panic that says how to get it.
/// `python3` is always Debian's `/usr/bin/python3` (the one python3-dbusmock
/// is installed for, whatever else `PATH` offers); other tools are looked up
/// in `PATH`, then in the system directories.
pub fn tool(name: &str) -> PathBuf {
    let package = TOOLS
        .iter()
        .find(|(t, _)| *t == name)
        .map_or("?", |(_, p)| *p);
    let system = ["/usr/bin", "/bin", "/usr/sbin", "/sbin"].map(PathBuf::from);
    let path: Vec<PathBuf> = if name == "python3" {
        vec![PathBuf::from("/usr/bin")]
    } else {
        std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .chain(system)
            .collect()
    };
    match path.iter().map(|dir| dir.join(name)).find(|p| p.is_file()) {
        Some(path) => path,
        None => panic!(
            "this test needs `{name}` (Debian package `{package}`), which is not installed: \
             run `bash .ci/setup test`"
        ),
    }
}

/// A per-test home: `HOME` and the XDG directories, so that keyrings,
/// sockets and settings of the person running the tests are never touched.
#[derive(Debug)]
pub struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("aq-dbus-test-")
            .tempdir()
            .expect("temporary directory");
        for sub in ["data", "config", "cache", "runtime"] {
            std::fs::create_dir(dir.path().join(sub)).expect("create XDG directory");
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(
                dir.path().join("runtime"),
                std::fs::Permissions::from_mode(0o700),
            )
            .expect("chmod XDG_RUNTIME_DIR");
        }
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Points `cmd` at this home, with no display (nothing can pop up).
    pub fn apply(&self, cmd: &mut Command) {
        let p = self.dir.path();
        cmd.env("HOME", p)
            .env("XDG_DATA_HOME", p.join("data"))
            .env("XDG_CONFIG_HOME", p.join("config"))
            .env("XDG_CACHE_HOME", p.join("cache"))
            .env("XDG_RUNTIME_DIR", p.join("runtime"))
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("GNOME_KEYRING_CONTROL")
            .env_remove("DBUS_SESSION_BUS_ADDRESS");
    }
}

/// Which services the bus may start on demand (D-Bus activation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// None: only what the test starts runs on the bus.
    Off,
    /// Those of `/usr/share/dbus-1/services` etc., as a desktop session bus
    /// (`dbus-run-session` uses the same standard directories).
    Standard,
}

/// A private session bus (`dbus-daemon`), stopped on drop.
#[derive(Debug)]
pub struct Bus {
    daemon: Child,
    address: String,
    _dir: tempfile::TempDir,
    helpers: Vec<Child>,
}

impl Bus {
    pub fn start(home: &Home, activation: Activation) -> Self {
        let dbus_daemon = tool("dbus-daemon");
        let dir = tempfile::Builder::new()
            .prefix("aq-bus-")
            .tempdir()
            .expect("temporary directory");
        let servicedirs = match activation {
            Activation::Off => "",
            Activation::Standard => "<standard_session_servicedirs/>",
        };
        let config = dir.path().join("session.conf");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  {servicedirs}
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
                dir.path().join("bus").display()
            ),
        )
        .expect("write the bus configuration");
        let mut cmd = Command::new(dbus_daemon);
        home.apply(&mut cmd);
        cmd.arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut daemon = cmd.spawn().expect("start dbus-daemon");
        let stdout = daemon.stdout.take().expect("dbus-daemon stdout");
        let mut address = String::new();
        BufReader::new(stdout)
            .read_line(&mut address)
            .expect("read the bus address");
        let address = address.trim().to_owned();
        assert!(
            address.starts_with("unix:"),
            "dbus-daemon did not start (printed {address:?})"
        );
        Self {
            daemon,
            address,
            _dir: dir,
            helpers: Vec::new(),
        }
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    /// A command in `home` on this bus.
    pub fn command(&self, home: &Home, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        home.apply(&mut cmd);
        cmd.env("DBUS_SESSION_BUS_ADDRESS", &self.address);
        cmd
    }

    /// Keeps `child` running while the bus does; it is killed on drop.
    pub fn keep(&mut self, child: Child) {
        self.helpers.push(child);
    }

    /// The unique name of the owner of `name` on the bus, if any.
    pub fn owner(&self, home: &Home, name: &str) -> Option<String> {
        let out = self
            .command(home, tool("dbus-send"))
            .args([
                "--session",
                "--print-reply=literal",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.GetNameOwner",
            ])
            .arg(format!("string:{name}"))
            .output()
            .expect("run dbus-send");
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else if stderr.contains("NameHasNoOwner") {
            None
        } else {
            panic!("dbus-send failed: {stderr}")
        }
    }

    pub fn has_owner(&self, home: &Home, name: &str) -> bool {
        self.owner(home, name).is_some()
    }

    /// Waits (up to 20 s) until `name` is owned on the bus by someone other
    /// than `previous`, and returns the new owner.
    pub fn wait_for_owner(&self, home: &Home, name: &str, previous: Option<&str>) -> String {
        let start = Instant::now();
        loop {
            match self.owner(home, name) {
                Some(owner) if Some(owner.as_str()) != previous => return owner,
                _ => {}
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "no new owner of {name} appeared on the test bus within 20 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        for child in &mut self.helpers {
            let _ = child.kill();
            let _ = child.wait();
        }
        // Daemons that forked themselves (gnome-keyring-daemon) leave when
        // the bus goes away.
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

/// The result of one probe run.
#[derive(Debug)]
pub struct Probe {
    pub code: Option<i32>,
    /// The text after `probe: ` on the probe's line.
    pub line: String,
    pub output: Output,
}

/// The test harness's arguments that run only the probe entry point
/// `entry` (an ignored test).
pub fn probe_args(entry: &str) -> [&str; 6] {
    [
        entry,
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
        "--quiet",
    ]
}

/// What a probe entry point run without its environment variable says:
/// it is no test, but a part of the tests that re-run it.
pub fn not_a_test(env_var: &str) -> ! {
    panic!(
        "this is not a test but a probe the other tests of this file run as a child process \
         (with {env_var} set): run them instead"
    )
}

/// `cmd` set up to run this test binary as the probe of the test named
/// `entry` (which acts as a probe when `env_var` is set to `op`).
pub fn probe_command(mut cmd: Command, entry: &str, env_var: &str, op: &[&str]) -> Command {
    cmd.args(probe_args(entry))
        .env(env_var, op.join(" "))
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    cmd
}

/// The path of this test binary, for [`probe_command`].
pub fn this_binary() -> PathBuf {
    std::env::current_exe().expect("the test binary's path")
}

/// Runs a probe (with a 60 s limit) and reads its `probe:` line.
pub fn run_probe(mut cmd: Command) -> Probe {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start the probe");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait for the probe").is_some() {
            break;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let output = child.wait_with_output().expect("probe output");
            panic!(
                "the probe hung for 60 s (killed); stdout: {} stderr: {}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let output = child.wait_with_output().expect("probe output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("probe: "))
        .unwrap_or_else(|| {
            panic!(
                "the probe printed no `probe:` line (exit {:?}); stdout: {stdout} stderr: {}",
                output.status.code(),
                String::from_utf8_lossy(&output.stderr)
            )
        })
        .to_owned();
    Probe {
        code: output.status.code(),
        line,
        output,
    }
}
