//! Types and pure logic shared by the Authentiq server and authenticator.
//!
//! Nothing here does I/O or needs an async runtime: the crate turns bytes into
//! checked values and back. Randomness (key generation, `jti`) comes from the
//! operating system's CSPRNG through `rand_core::OsRng`.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod b64;
pub mod devices;
pub mod errors;
pub mod id;
pub mod jws;
pub mod jwt;
pub mod payloads;
pub mod scope;

pub use id::{AuthentiqId, IdError};
pub use jws::JwsError;
pub use jwt::{Audience, Claims, Registered, Validation};
pub use scope::{Scope, ScopeError, ScopeItem, ScopeName};
