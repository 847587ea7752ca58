//! The shared security mechanisms every endpoint asks, rather than each
//! deciding for itself:
//! - [`events`]: the security event log (what happened, with time, key,
//!   client and address);
//! - [`pushes`]: whether a sign-in request may be pushed to a key's devices
//!   (key live, not blocked by a report or by wrong numbers, under the rate);
//! - [`client_ip`]: the client's address behind trusted reverse proxies;
//! - [`streams`]: a cap on the long-lived streams one address holds open.
//!
//! Whether a key is live is decided in one place, [`crate::AppState::active_key`].

pub mod client_ip;
pub mod events;
pub mod pushes;
pub mod streams;

pub use client_ip::{ClientIp, TrustedProxies};
pub use events::{Kind, Subject, event, record, trace};
