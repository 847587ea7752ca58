//! The end-to-end and interoperability tests, one test binary (the server,
//! the authenticator and the rest are linked once, not once per file); one
//! module per area, each test in a process of its own under nextest:
//!
//! - `aq`: the `aq` CLI with the real OS keyring against the server;
//! - `browser`: the sign-in page in Chromium;
//! - `dashboard`: the owners' dashboard in Chromium, through axe-core;
//! - `desktop`: the desktop app over WebDriver;
//! - `desktop_window`: the desktop app as a user launches it (no WebDriver);
//! - `interop_jose`: our JWS against npm `jose`;
//! - `multi_instance`: two server processes on one PostgreSQL;
//! - `oidc`: the OpenID Connect provider with the `openidconnect` crate;
//! - `session_iframe`: the session iframe (OIDC Session Management) in
//!   Chromium, framed by a relying party's page;
//! - `ui_audit`: the app's screens through axe-core.
//!
//! `support` holds what they share.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

mod aq;
mod browser;
mod dashboard;
mod desktop;
mod desktop_window;
mod interop_jose;
mod multi_instance;
mod oidc;
mod session_iframe;
mod support;
mod ui_audit;
