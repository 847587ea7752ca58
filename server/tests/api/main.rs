//! The issuer API against the real server on 127.0.0.1:0 with a fresh
//! SQLite file: one test binary, one module per area.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

mod common;

mod accounts;
mod channel;
mod ciba;
mod dashboard;
mod deployment;
mod device_par;
mod devices;
mod dpop;
mod durability;
mod grants;
mod key;
mod limits;
mod login;
mod metrics;
mod oidc_discovery;
mod registration;
mod schemathesis;
mod scope;
mod sdk;
