//! schemathesis (PyPI) against the server's own `/openapi.json`: every
//! operation fuzzed, no 5xx, every response conforming to the document.

use std::path::PathBuf;
use std::process::Command;

use crate::common::*;

fn schemathesis() -> PathBuf {
    if let Some(p) = std::env::var_os("AUTHENTIQ_SCHEMATHESIS") {
        return p.into();
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    root.join(".venv-tests/bin/schemathesis")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_errors_or_schema_violations() {
    let st = schemathesis();
    assert!(
        st.exists(),
        "{} is missing: run `bash .ci/setup test`, which installs schemathesis",
        st.display()
    );
    let s = TestServer::start().await;
    let url = s.url("/openapi.json");
    // schemathesis keeps a cache in its working directory: keep it out of the tree.
    let cwd = s.dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(st)
            .current_dir(cwd)
            .args(["run", &url, "--checks", "all"])
            // Bodies are signed JWTs: a schema cannot describe which strings
            // are acceptable, so "schema-valid data must be accepted" cannot hold.
            .args(["--exclude-checks", "positive_data_acceptance"])
            .args(["--max-examples", "40", "--request-timeout", "10"])
            .env("NO_COLOR", "1")
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("passed"), "{stdout}");
    assert!(!stdout.contains("Server error"), "{stdout}");
}
