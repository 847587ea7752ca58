//! The OpenID Connect provider end to end: the real server on 127.0.0.1:0,
//! a device played with the protocol crate, and the `openidconnect` crate
//! as an ordinary relying party.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

mod common;
#[path = "../support/device.rs"]
#[allow(dead_code)] // shared: not every test binary uses every helper
mod device;
mod flow;
mod modes;
mod negative;
#[path = "../support/provider.rs"]
#[allow(dead_code)] // shared: not every test binary uses every helper
mod provider;
