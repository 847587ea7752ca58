//! Random values, hashes and constant-time comparison: the only place the
//! server makes or checks a secret.

use hmac::{Hmac, Mac};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

type HmacSha256 = Hmac<Sha256>;

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    OsRng.fill_bytes(&mut b);
    b
}

/// 43 characters, 256 bits: revocation secrets.
pub fn new_secret() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// 16 characters of base64url: salts (not secret).
pub fn random_salt() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<12>())
}

/// 20 characters, 120 bits: scope job IDs.
pub fn new_job_id() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<15>())
}

/// A uniformly random 6-digit code.
pub fn new_code() -> String {
    loop {
        let n = OsRng.next_u32();
        // Reject the top sliver so that `% 1_000_000` stays uniform.
        if n < u32::MAX - (u32::MAX % 1_000_000) {
            return format!("{:06}", n % 1_000_000);
        }
    }
}

/// SHA-256 of a high-entropy secret (enough: nothing to brute-force).
pub fn hash_secret(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// [`hash_secret`] as base64url text, for JSON records.
pub fn hash_secret_b64(secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(hash_secret(secret))
}

/// Compares `secret` with a stored [`hash_secret`] in constant time.
pub fn verify_secret(secret: &str, stored: &[u8]) -> bool {
    hash_secret(secret).ct_eq(stored).into()
}

/// Keyed hashes for low-entropy values (emails, phone numbers, codes), so a
/// copy of the database alone does not reveal them.
#[derive(Clone)]
pub struct Hasher {
    key: [u8; 32],
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hasher(<key hidden>)")
    }
}

impl Hasher {
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    /// HMAC-SHA256 over `domain` and `value`, separated so that no two
    /// (domain, value) pairs collide.
    pub fn hash(&self, domain: &str, value: &str) -> Vec<u8> {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    pub fn verify(&self, domain: &str, value: &str, stored: &[u8]) -> bool {
        self.hash(domain, value).ct_eq(stored).into()
    }
}

/// Lower-cases and checks an email address; `None` if it cannot be one.
pub fn normalize_email(s: &str) -> Option<String> {
    let s = s.trim();
    let (local, domain) = s.rsplit_once('@')?;
    let ok = !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && s.len() <= 254
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>');
    ok.then(|| s.to_lowercase())
}

/// Strips separators and checks E.164 (`+` and 7 to 15 digits).
pub fn normalize_phone(s: &str) -> Option<String> {
    let compact: String = s
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
        .collect();
    let digits = compact.strip_prefix('+')?;
    let ok = (7..=15).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit())
        && !digits.starts_with('0');
    ok.then_some(compact)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_and_vary() {
        let codes: std::collections::HashSet<_> = (0..50).map(|_| new_code()).collect();
        assert!(codes.len() > 40);
        assert!(
            codes
                .iter()
                .all(|c| c.len() == 6 && c.chars().all(|d| d.is_ascii_digit()))
        );
        assert_eq!(new_job_id().len(), 20);
        assert_eq!(new_secret().len(), 43);
    }

    #[test]
    fn secret_hash_verifies_only_the_secret() {
        let s = new_secret();
        let h = hash_secret(&s);
        assert!(verify_secret(&s, &h));
        assert!(!verify_secret(&new_secret(), &h));
        assert!(!verify_secret(&s, &h[..31]));
    }

    #[test]
    fn keyed_hash_depends_on_key_and_domain() {
        let a = Hasher::new([1; 32]);
        let b = Hasher::new([2; 32]);
        assert_eq!(a.hash("email", "x@y.z"), a.hash("email", "x@y.z"));
        assert_ne!(a.hash("email", "x@y.z"), b.hash("email", "x@y.z"));
        assert_ne!(a.hash("email", "x@y.z"), a.hash("phone", "x@y.z"));
        assert!(a.verify("email", "x@y.z", &a.hash("email", "x@y.z")));
    }

    #[test]
    fn normalizes_emails_and_phones() {
        assert_eq!(
            normalize_email(" Alice@Example.COM ").as_deref(),
            Some("alice@example.com")
        );
        for bad in [
            "",
            "alice",
            "@example.com",
            "a@b",
            "a@.com",
            "a b@c.d",
            "a@b.c.",
        ] {
            assert_eq!(normalize_email(bad), None, "{bad}");
        }
        assert_eq!(
            normalize_phone("+31 (6) 1234-5678").as_deref(),
            Some("+31612345678")
        );
        for bad in [
            "0612345678",
            "+12",
            "+3161234567890123",
            "+31abc45678",
            "+0612345678",
        ] {
            assert_eq!(normalize_phone(bad), None, "{bad}");
        }
    }
}

/// Seals secrets the server must read back (XChaCha20-Poly1305 with a key
/// of its own, the record's id as associated data), for storing them.
#[derive(Clone)]
pub struct Sealer {
    key: [u8; 32],
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(<key hidden>)")
    }
}

impl Sealer {
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    fn cipher(&self) -> chacha20poly1305::XChaCha20Poly1305 {
        use chacha20poly1305::KeyInit;
        chacha20poly1305::XChaCha20Poly1305::new(&self.key.into())
    }

    /// `secret` sealed for `id`: base64url of nonce ‖ ciphertext.
    pub fn seal(&self, secret: &str, id: &str) -> Result<String, String> {
        use chacha20poly1305::aead::{Aead, Payload};
        let nonce = random_bytes::<24>();
        let sealed = self
            .cipher()
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: secret.as_bytes(),
                    aad: id.as_bytes(),
                },
            )
            .map_err(|_| "cannot seal".to_string())?;
        let mut out = nonce.to_vec();
        out.extend(sealed);
        Ok(URL_SAFE_NO_PAD.encode(out))
    }

    /// What [`Sealer::seal`] sealed for `id`.
    pub fn open(&self, sealed: &str, id: &str) -> Result<String, String> {
        use chacha20poly1305::aead::{Aead, Payload};
        let bytes = URL_SAFE_NO_PAD
            .decode(sealed)
            .map_err(|_| "not base64url".to_string())?;
        if bytes.len() < 24 {
            return Err("too short".into());
        }
        let (nonce, ct) = bytes.split_at(24);
        let nonce: [u8; 24] = nonce.try_into().map_err(|_| "bad nonce".to_string())?;
        let plain = self
            .cipher()
            .decrypt(
                &nonce.into(),
                Payload {
                    msg: ct,
                    aad: id.as_bytes(),
                },
            )
            .map_err(|_| "does not open (another key, or another record)".to_string())?;
        String::from_utf8(plain).map_err(|_| "not UTF-8".to_string())
    }
}

#[cfg(test)]
mod sealer_tests {
    #![allow(clippy::unwrap_used)] // test code
    use super::*;

    #[test]
    fn sealed_secrets_open_only_for_their_record_and_key() {
        let s = Sealer::new([7; 32]);
        let sealed = s.seal("the secret", "client-a").unwrap();
        assert!(!sealed.contains("secret"));
        assert_eq!(s.open(&sealed, "client-a").unwrap(), "the secret");
        assert!(s.open(&sealed, "client-b").is_err(), "another record");
        assert!(
            Sealer::new([8; 32]).open(&sealed, "client-a").is_err(),
            "another key"
        );
        assert_ne!(
            sealed,
            s.seal("the secret", "client-a").unwrap(),
            "a fresh nonce"
        );
    }
}
