//! The cryptography behind `jsonwebtoken`: its RustCrypto provider, except
//! for RS256 signatures, which `ring` makes. The `rsa` crate's private-key
//! operations are not constant time (RUSTSEC-2023-0071, the Marvin attack),
//! and anyone can make this server sign ID tokens, so its RSA key never goes
//! through them; `rsa` still generates keys and reads PKCS#8 (once, at
//! start) and verifies (public keys only).
//!
//! The provider is process-wide: [`install`] runs before the first token
//! (from [`super::keys::OidcKeys`]), and fails loudly if `jsonwebtoken` had
//! already settled on another.

use std::sync::LazyLock;

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, rust_crypto};
use jsonwebtoken::errors::{ErrorKind, Result};
use jsonwebtoken::signature::{self, Signer};
use jsonwebtoken::{Algorithm, AlgorithmFamily, EncodingKey};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};

static PROVIDER: LazyLock<CryptoProvider> = LazyLock::new(|| CryptoProvider {
    signer_factory: new_signer,
    ..rust_crypto::DEFAULT_PROVIDER.clone()
});

/// Makes ours the process's provider (again: a no-op). `Err` when another
/// was chosen first: RS256 would then sign with the `rsa` crate.
pub fn install() -> anyhow::Result<()> {
    let ours: &'static CryptoProvider = &PROVIDER;
    match ours.install_default() {
        Ok(()) => Ok(()),
        Err(current) if std::ptr::eq(current, ours) => Ok(()),
        Err(_) => anyhow::bail!(
            "jsonwebtoken chose its crypto provider before ours was installed (RS256 must sign \
             with ring)"
        ),
    }
}

fn new_signer(alg: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    match alg {
        Algorithm::RS256 => Ok(Box::new(RingRs256::new(key)?)),
        // This server signs no other RSA algorithm; refuse rather than fall
        // back to the `rsa` crate.
        Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => Err(ErrorKind::InvalidAlgorithm.into()),
        other => (rust_crypto::DEFAULT_PROVIDER.signer_factory)(other, key),
    }
}

/// RSASSA-PKCS1-v1_5 with SHA-256 over a PKCS#1 `RSAPrivateKey` (what
/// `EncodingKey::from_rsa_der` holds).
struct RingRs256(RsaKeyPair);

impl RingRs256 {
    fn new(key: &EncodingKey) -> Result<Self> {
        if key.family() != AlgorithmFamily::Rsa {
            return Err(ErrorKind::InvalidKeyFormat.into());
        }
        RsaKeyPair::from_der(key.as_bytes())
            .map(Self)
            .map_err(|e| ErrorKind::InvalidRsaKey(e.to_string()).into())
    }
}

impl Signer<Vec<u8>> for RingRs256 {
    fn try_sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
        let mut sig = vec![0; self.0.public().modulus_len()];
        self.0
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), msg, &mut sig)
            .map_err(|_| signature::Error::new())?;
        Ok(sig)
    }
}

impl JwtSigner for RingRs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::RS256
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::{DecodingKey, Header, Validation};
    use rand_core::OsRng;
    use rsa::pkcs1::{EncodeRsaPrivateKey as _, EncodeRsaPublicKey as _};
    use rsa::signature::{SignatureEncoding as _, Signer as _};
    use serde_json::{Value, json};

    use super::*;

    fn rsa_key() -> rsa::RsaPrivateKey {
        rsa::RsaPrivateKey::new(&mut OsRng, 2048).unwrap()
    }

    #[test]
    fn rs256_tokens_are_signed_by_ring_and_verify_as_pkcs1_v1_5() {
        install().unwrap();
        let key = rsa_key();
        let der = key.to_pkcs1_der().unwrap();
        let encoding = EncodingKey::from_rsa_der(der.as_bytes());
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::RS256),
            &json!({"sub": "x", "exp": 4_000_000_000u64}),
            &encoding,
        )
        .unwrap();
        // Still ours after jsonwebtoken has used its default.
        install().unwrap();

        let (message, sig) = token.rsplit_once('.').unwrap();
        let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        // PKCS#1 v1.5 is deterministic: the same bytes as the reference
        // implementation, and ring's signer made them.
        let reference = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key.clone())
            .sign(message.as_bytes())
            .to_vec();
        assert_eq!(sig, reference);
        let ring_signer = new_signer(&Algorithm::RS256, &encoding).unwrap();
        assert_eq!(ring_signer.try_sign(message.as_bytes()).unwrap(), sig);

        let public = key.to_public_key().to_pkcs1_der().unwrap();
        let claims = jsonwebtoken::decode::<Value>(
            &token,
            &DecodingKey::from_rsa_der(public.as_bytes()),
            &Validation::new(Algorithm::RS256),
        )
        .unwrap()
        .claims;
        assert_eq!(claims["sub"], "x");
    }

    #[test]
    fn other_rsa_algorithms_are_refused_not_signed_with_the_rsa_crate() {
        let der = rsa_key().to_pkcs1_der().unwrap();
        let encoding = EncodingKey::from_rsa_der(der.as_bytes());
        for alg in [Algorithm::RS384, Algorithm::RS512, Algorithm::PS256] {
            assert!(new_signer(&alg, &encoding).is_err(), "{alg:?}");
        }
    }

    #[test]
    fn a_malformed_rsa_key_is_an_error() {
        let err = new_signer(&Algorithm::RS256, &EncodingKey::from_rsa_der(b"not a key"))
            .err()
            .unwrap();
        assert!(matches!(err.kind(), ErrorKind::InvalidRsaKey(_)), "{err:?}");
        // An EC key is not an RSA key.
        let ec = EncodingKey::from_ec_der(b"whatever");
        assert!(new_signer(&Algorithm::RS256, &ec).is_err());
    }
}
