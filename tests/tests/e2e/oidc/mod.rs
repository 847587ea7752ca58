//! The OpenID Connect provider end to end: the real server on 127.0.0.1:0,
//! a device played with the protocol crate, and the `openidconnect` crate
//! as an ordinary relying party.

mod brakes;
pub(crate) mod common;
mod flow;
mod interop;
mod modes;
mod negative;
mod registration;
mod revocation;
mod sessions;
mod standards;
