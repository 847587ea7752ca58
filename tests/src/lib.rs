//! Helpers shared by the end-to-end tests and the benchmarks: running the
//! independent implementations under `tests/interop/`, and the processes
//! around ours (`procs`), the desktop app launched as a user would
//! (`desktop_app`).

pub mod desktop_app;
pub mod procs;

use std::path::PathBuf;
use std::process::Command;

/// `tests/interop/`, where the third-party implementations live.
pub fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("interop")
}

/// Runs `node tests/interop/<script> <args…>` and parses its JSON output.
/// `Err` carries what the script printed on failure, so a test can assert
/// on an expected refusal as well as on success.
pub fn node_json(script: &str, args: &[&str]) -> Result<serde_json::Value, String> {
    let dir = interop_dir();
    assert!(
        dir.join("node_modules").is_dir(),
        "run `npm ci` in {} first (the test command does this)",
        dir.display()
    );
    let out = Command::new("node")
        .arg(dir.join(script))
        .args(args)
        .current_dir(&dir)
        .output()
        .map_err(|e| format!("cannot run node: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("bad JSON from {script}: {e}"))
}
