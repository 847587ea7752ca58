//! Account passwords: Argon2id at OWASP's parameters (19 MiB, 2 passes, 1
//! lane), stored as PHC strings that carry their parameters, so they can be
//! raised later and old hashes still verify. Hashing runs on the blocking
//! pool: it costs tens of milliseconds of CPU on purpose.

use std::sync::LazyLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand_core::OsRng;

use crate::ApiError;

/// Shortest and longest password, in characters (checked before hashing).
pub const MIN_CHARS: usize = 8;
pub const MAX_CHARS: usize = 1024;

/// OWASP Password Storage Cheat Sheet, Argon2id: m = 19 MiB, t = 2, p = 1.
const MEMORY_KIB: u32 = 19 * 1024;
const PASSES: u32 = 2;
const LANES: u32 = 1;

fn hasher() -> Argon2<'static> {
    // The constants are valid parameters; `default()` is the same algorithm
    // should they ever not be.
    Params::new(MEMORY_KIB, PASSES, LANES, None)
        .map(|p| Argon2::new(Algorithm::Argon2id, Version::V0x13, p))
        .unwrap_or_default()
}

/// The parameters new hashes use, for the benchmark's report.
pub fn parameters() -> String {
    format!("Argon2id m={MEMORY_KIB} KiB, t={PASSES}, p={LANES}")
}

/// A password of acceptable length, or why not.
pub fn check(password: &str) -> Result<(), ApiError> {
    let n = password.chars().count();
    if !(MIN_CHARS..=MAX_CHARS).contains(&n) {
        return Err(ApiError::bad_request(format!(
            "a password has {MIN_CHARS} to {MAX_CHARS} characters"
        )));
    }
    Ok(())
}

/// Hashes a (length-checked) password.
pub async fn hash(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        hasher()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await
    .map_err(|_| ApiError::internal("hashing failed"))?
    .map_err(|e| {
        tracing::error!(error = %e, "cannot hash a password");
        ApiError::internal("hashing failed")
    })
}

/// A hash to verify against when there is no account, so that an unknown
/// email costs the same time as a wrong password.
static DUMMY: LazyLock<String> = LazyLock::new(|| {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(b"no account has this password", &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
});

/// Whether `password` matches `phc` (or, with `None`, spends the same time
/// and says no). Constant time in the password, by Argon2.
pub async fn verify(password: String, phc: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let known = phc.is_some();
        let phc = phc.unwrap_or_else(|| DUMMY.clone());
        let Ok(parsed) = PasswordHash::new(&phc) else {
            return false;
        };
        // The parameters come from the stored hash.
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        ok && known
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_carry_their_parameters() {
        let h = hash("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse battery".into(), Some(h.clone())).await);
        assert!(!verify("correct horse batterY".into(), Some(h)).await);
        assert!(!verify("no account has this password".into(), None).await);
        // A hash made with other parameters still verifies.
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8, 1, 1, None).unwrap(),
        )
        .hash_password(b"old password", &SaltString::generate(&mut OsRng))
        .unwrap()
        .to_string();
        assert!(verify("old password".into(), Some(weak)).await);
    }

    #[test]
    fn lengths_are_checked_before_hashing() {
        assert!(check("1234567").is_err());
        assert!(check("12345678").is_ok());
        assert!(check(&"x".repeat(1024)).is_ok());
        assert!(check(&"x".repeat(1025)).is_err());
        assert!(check("ééééééé").is_err(), "characters, not bytes");
    }
}
