//! DPoP (RFC 9449): proofs of possession at `/token` and at resources
//! (`/userinfo`). A proof is a JWT (`typ: dpop+jwt`, ES256 or EdDSA) signed
//! by a key whose public JWK is in its header, for one request (`htm`,
//! `htu`), fresh (`iat`), used once (`jti`), optionally with a server nonce
//! and, at a resource, the hash of the access token (`ath`). Tokens issued
//! with a proof are bound to its key's thumbprint (`cnf.jkt`).

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::ThumbprintHash;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::error::OAuthErr;
use crate::AppState;
use crate::store::StoreError;
use authentiq_protocol::errors::OAuthErrorCode;

/// The algorithms proofs may use (discovery's `dpop_signing_alg_values_supported`).
pub const ALGS: &[&str] = &["ES256", "EdDSA"];
/// How far a proof's `iat` may be from now.
const IAT_WINDOW: i64 = 60;
/// A nonce is good for this window and the one before.
const NONCE_WINDOW: i64 = 300;

/// A checked proof: the thumbprint of its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    pub jkt: String,
}

/// Where the proof must point: the method and the URL (no query).
#[derive(Debug)]
pub struct Target<'a> {
    pub method: &'a str,
    pub url: &'a str,
    /// At a resource: the access token the proof goes with.
    pub access_token: Option<&'a str>,
}

fn invalid(why: &str) -> OAuthErr {
    OAuthErr::new(
        OAuthErrorCode::InvalidDpopProof,
        format!("DPoP proof: {why}"),
    )
}

/// The server's current nonce (stateless: a keyed hash of the time window).
pub fn nonce(state: &AppState) -> String {
    nonce_at(state, state.now() / NONCE_WINDOW)
}

fn nonce_at(state: &AppState, window: i64) -> String {
    URL_SAFE_NO_PAD.encode(&state.hasher.hash("dpop-nonce", &window.to_string())[..16])
}

/// `use_dpop_nonce`, with a fresh nonce to use.
fn need_nonce(state: &AppState) -> OAuthErr {
    let mut e = OAuthErr::new(
        OAuthErrorCode::UseDpopNonce,
        "send the DPoP-Nonce this server gave",
    );
    e.dpop_nonce = Some(nonce(state));
    e
}

/// The proof of a request, checked against `target`; `None` when there is
/// none (an error when there are several).
pub async fn proof(
    state: &AppState,
    headers: &HeaderMap,
    target: &Target<'_>,
) -> Result<Option<Proof>, OAuthErr> {
    let mut values = headers.get_all("dpop").iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(invalid("send one DPoP header"));
    }
    if !state.config.oidc.dpop {
        return Err(OAuthErr::invalid_request(
            "DPoP is not enabled on this server",
        ));
    }
    let jwt = value.to_str().map_err(|_| invalid("not text"))?;
    if jwt.len() > 4096 {
        return Err(invalid("too long"));
    }
    let head = jsonwebtoken::decode_header(jwt).map_err(|_| invalid("not a JWT"))?;
    if head.typ.as_deref() != Some("dpop+jwt") {
        return Err(invalid("typ must be dpop+jwt"));
    }
    let alg = match head.alg {
        Algorithm::ES256 => Algorithm::ES256,
        Algorithm::EdDSA => Algorithm::EdDSA,
        _ => return Err(invalid("alg must be ES256 or EdDSA")),
    };
    let jwk = head
        .jwk
        .as_ref()
        .ok_or_else(|| invalid("the header has no jwk"))?;
    // The public key only: a private part in the header is refused (read
    // from the header as sent: the parsed JWK has no place for it).
    let raw_jwk = jwt
        .split('.')
        .next()
        .and_then(|h| URL_SAFE_NO_PAD.decode(h).ok())
        .and_then(|h| serde_json::from_slice::<Value>(&h).ok())
        .and_then(|h| h.get("jwk").cloned())
        .ok_or_else(|| invalid("bad jwk"))?;
    if ["d", "p", "q", "dp", "dq", "qi", "k"]
        .iter()
        .any(|k| raw_jwk.get(k).is_some())
    {
        return Err(invalid("the jwk holds a private key"));
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|_| invalid("unusable jwk"))?;
    let mut v = Validation::new(alg);
    v.required_spec_claims.clear();
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    let claims = jsonwebtoken::decode::<Value>(jwt, &key, &v)
        .map_err(|_| invalid("the signature does not verify with its jwk"))?
        .claims;
    let text = |k: &str| claims.get(k).and_then(Value::as_str);
    let jti = text("jti")
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .ok_or_else(|| invalid("no jti"))?;
    if text("htm") != Some(target.method) {
        return Err(invalid("htm is not this request's method"));
    }
    if text("htu").map(strip_query) != Some(strip_query(target.url)) {
        return Err(invalid("htu is not this request's URL"));
    }
    let now = state.now();
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or_else(|| invalid("no iat"))?;
    if (now - iat).abs() > IAT_WINDOW {
        return Err(invalid("iat is not now"));
    }
    if let Some(token) = target.access_token {
        let ath = URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()));
        if text("ath") != Some(ath.as_str()) {
            return Err(invalid("ath is not the hash of the access token"));
        }
    }
    if state.config.oidc.dpop_require_nonce {
        let window = now / NONCE_WINDOW;
        let ok = text("nonce")
            .is_some_and(|n| n == nonce_at(state, window) || n == nonce_at(state, window - 1));
        if !ok {
            return Err(need_nonce(state));
        }
    }
    let jkt = jwk
        .thumbprint(ThumbprintHash::SHA256)
        .map_err(|_| invalid("unusable jwk"))?;
    // Each proof once.
    let (key, until) = (format!("dpop:{jkt}:{jti}"), iat + 2 * IAT_WINDOW);
    match state.db.call(move |s| s.use_jti(&key, until)).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => return Err(invalid("this proof was used before")),
        Err(e) => return Err(crate::ApiError::from(e).into()),
    }
    Ok(Some(Proof { jkt }))
}

fn strip_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

/// The `WWW-Authenticate` of a resource refusing a DPoP-bound request.
pub fn challenge(error: &str, description: &str) -> HeaderValue {
    let v = format!(
        r#"DPoP algs="{}", error="{error}", error_description="{}""#,
        ALGS.join(" "),
        description.replace(['"', '\\'], "'")
    );
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static("DPoP"))
}

/// Makes a resource's 401 for a DPoP problem.
pub fn resource_error(mut e: OAuthErr) -> OAuthErr {
    if e.code == OAuthErrorCode::InvalidDpopProof || e.code == OAuthErrorCode::UseDpopNonce {
        e.status = StatusCode::UNAUTHORIZED;
        e.www_authenticate = challenge(e.code.as_str(), &e.description)
            .to_str()
            .ok()
            .map(str::to_string);
    }
    e
}
