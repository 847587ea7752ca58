//! The desktop app's screens pass an accessibility audit: the UI built in
//! mock mode (its Rust side mocked) is opened in Debian's Chromium, every
//! screen in the light and the dark theme, and axe-core checks it against
//! the WCAG 2.x A and AA rules; then a sign-in request is answered with the
//! keyboard alone, and so is a backchannel one (no number to pick), every
//! stop showing a focus ring
//! (`tests/browser/ui-audit.mjs`). The rules are about the DOM, names,
//! roles and colours, so Chromium stands in for the app's WebKit here.
//! Screenshots go to `tests/artifacts/ui-audit/`.
//!
//! Needs `/usr/bin/chromium`, `ui/node_modules` and
//! `tests/browser/node_modules` (`bash .ci/setup test`); fails, never skips,
//! without them.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

#[test]
fn every_screen_passes_axe_in_both_themes_and_a_request_can_be_answered_by_keyboard() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let (ui, browser) = (root.join("ui"), root.join("tests/browser"));
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is missing: install Debian's chromium (`bash .ci/setup test` does)"
    );
    for dir in [&ui, &browser] {
        assert!(
            dir.join("node_modules").is_dir(),
            "run `npm ci` in {} (`bash .ci/setup test` does)",
            dir.display()
        );
    }
    let _one = authentiq_tests::procs::one_window_at_a_time().unwrap();

    let dist = tempfile::tempdir().unwrap();
    let build = Command::new("npx")
        .args([
            "vite",
            "build",
            "--mode",
            "mock",
            "--emptyOutDir",
            "--outDir",
        ])
        .arg(dist.path())
        .current_dir(&ui)
        .output()
        .expect("running npx vite build");
    assert!(
        build.status.success(),
        "the mock build failed:\n{}{}",
        String::from_utf8_lossy(&build.stdout),
        String::from_utf8_lossy(&build.stderr)
    );

    let shots = root.join("tests/artifacts/ui-audit");
    let _ = std::fs::remove_dir_all(&shots);
    let run = Command::new("node")
        .arg(browser.join("ui-audit.mjs"))
        .arg(dist.path())
        .arg(&shots)
        .current_dir(&browser)
        .output()
        .expect("running node (Node.js 20+ on PATH?)");
    let stderr = String::from_utf8_lossy(&run.stderr);
    let report: Value = serde_json::from_slice(&run.stdout)
        .unwrap_or_else(|e| panic!("no report from ui-audit.mjs ({e}); its stderr:\n{stderr}"));

    let mut problems = Vec::new();
    let audits = report["audits"].as_array().unwrap();
    assert_eq!(audits.len(), 36, "18 screens × 2 themes were audited");
    for a in audits {
        assert!(a["passes"].as_u64().unwrap() > 10, "axe ran its rules: {a}");
        for v in a["violations"].as_array().unwrap() {
            let nodes: Vec<&str> = v["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|n| n["target"].as_str())
                .collect();
            problems.push(format!(
                "{} ({}): {} [{}] at {}",
                a["screen"],
                a["theme"],
                v["help"],
                v["id"],
                nodes.join(", ")
            ));
        }
    }
    let walk = &report["walk"];
    let stops: Vec<&str> = walk["stops"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for want in [
        "button#deny",
        "button#report",
        "button#approve",
        "[data-number=64]",
    ] {
        if !stops.iter().any(|s| s.contains(want)) {
            problems.push(format!("Tab never reaches {want}: {stops:?}"));
        }
    }
    if !walk["noRing"].as_array().unwrap().is_empty() {
        problems.push(format!("focus without a visible ring: {}", walk["noRing"]));
    }
    if !walk["result"].as_str().unwrap_or("").contains("signed in") {
        problems.push(format!(
            "approving by keyboard ended with {}",
            walk["result"]
        ));
    }
    // A backchannel request: the client's message to check, no number to
    // pick, Approve reached and pressed by keyboard at once.
    let bc = &report["backchannel"];
    if bc["numbers"] != 0 {
        problems.push(format!("a backchannel request offers numbers: {bc}"));
    }
    if bc["message"] != "Order 1234" {
        problems.push(format!("the binding message is not shown: {bc}"));
    }
    if bc["hint"] != "Only approve if Acme Shop shows this message." {
        problems.push(format!("Approve does not say what to check: {bc}"));
    }
    if bc["approveDisabled"] != false {
        problems.push(format!("Approve is disabled without a number: {bc}"));
    }
    if !bc["noRing"].as_array().unwrap().is_empty() {
        problems.push(format!("focus without a visible ring: {}", bc["noRing"]));
    }
    if !bc["result"].as_str().unwrap_or("").contains("signed in") {
        problems.push(format!(
            "approving a backchannel request by keyboard ended with {bc}"
        ));
    }
    if !report["errors"].as_array().unwrap().is_empty() {
        problems.push(format!("page errors: {}", report["errors"]));
    }
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}\n(screenshots in {})",
        problems.len(),
        problems.join("\n"),
        shots.display()
    );
    assert!(run.status.success(), "ui-audit.mjs failed: {stderr}");
}
