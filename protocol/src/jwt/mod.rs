//! JWTs on top of [`crate::jws`]: registered claims, time checks, and the
//! "self-signed" rule of Authentiq (the key in `kid` is the `sub`).
//!
//! The claim types are in `claims.rs`, what a verifier accepts in
//! `validation.rs`, making tokens in `sign.rs` and checking them in
//! `verify.rs`. Everything public is re-exported here, so callers name
//! `jwt::sign`, `jwt::verify_self_signed`, `jwt::Claims`, ….

mod claims;
mod sign;
#[cfg(test)]
mod tests;
mod validation;
mod verify;

pub use claims::{Audience, Claims, Registered};
pub use sign::{random_jti, sign, sign_device, sign_self, sign_typed};
pub use validation::Validation;
pub use verify::{peek_kid, verify, verify_device_signed, verify_self_signed};
