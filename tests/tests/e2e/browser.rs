//! The sign-in page in a real browser: Debian's Chromium, headless, driven by
//! `tests/browser/sign-in.mjs` (playwright-core), goes from the demo relying
//! party through `/authorize` to the sign-in page and back, while this test
//! plays the device with the protocol crate.
//!
//! Needs `/usr/bin/chromium` and `tests/browser/node_modules`: `bash .ci/setup
//! test` installs both. Screenshots go to `tests/artifacts/browser/`.

use std::time::Instant;

use authentiq_protocol::payloads::{Decision, SignInRequest};

use crate::support::chromium::{Script, artifacts_dir, one_at_a_time, pushed_request};
use crate::support::device::Device;
use crate::support::provider::Provider;

/// What both tests share: the provider, the device, the browser up to the
/// pushed request, which the device receives and checks.
async fn sign_in_until_pushed(
    mode: &str,
    email: &str,
    screenshots: &[&str],
) -> (Provider, Device, Script, SignInRequest, u16) {
    for name in screenshots {
        let _ = std::fs::remove_file(artifacts_dir().join(name));
    }
    let p = Provider::demo().await;
    let mut device = Device::enrol(&p, email).await;
    let start = format!("{}/demo/login", p.url);
    let shots = artifacts_dir();
    let shots = shots.to_str().unwrap();
    let mut script = Script::start("sign-in.mjs", &[&start, shots, mode, email]);
    let (req, number) = pushed_request(&mut script, &p, &mut device, "demo").await;
    (p, device, script, req, number)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_page_continues_after_approval() {
    let _one = one_at_a_time().await;
    let started = Instant::now();
    let email = "ada@example.com";
    let shots = ["sign-in.png", "pushed.png", "approved-claims.png"];
    let (_p, device, mut script, req, number) =
        sign_in_until_pushed("approve", email, &shots).await;

    let answered = device
        .respond(
            &req,
            Decision::Approve,
            Some(number),
            "openid email aq:name",
        )
        .await;
    if let Err(e) = answered {
        match script.fail(&format!("the device: {e:#}")).await {}
    }
    script.expect("DONE").await;
    script.finish().await;
    for name in shots {
        assert!(artifacts_dir().join(name).is_file(), "no screenshot {name}");
    }
    eprintln!("approval in the browser: {:.1?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_page_shows_denial_and_the_client_gets_access_denied() {
    let _one = one_at_a_time().await;
    let started = Instant::now();
    let email = "bea@example.com";
    let shots = ["sign-in-deny.png", "denied.png", "denied-client.png"];
    let (_p, device, mut script, req, _number) = sign_in_until_pushed("deny", email, &shots).await;

    if let Err(e) = device.respond(&req, Decision::Deny, None, "openid").await {
        match script.fail(&format!("the device: {e:#}")).await {}
    }
    script.expect("DENIED").await;
    script.expect("DONE").await;
    script.finish().await;
    for name in shots {
        assert!(artifacts_dir().join(name).is_file(), "no screenshot {name}");
    }
    eprintln!("denial in the browser: {:.1?}", started.elapsed());
}
