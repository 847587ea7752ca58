//! Minting what a sign-in grants: codes, access and refresh tokens, and ID
//! tokens. Everything from one authorization shares a `family`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256, Sha512};

use super::clients::{Client, SubjectType};
use super::records::{self, ACCESS, CODE, REFRESH};
use crate::store::Record;
use crate::{ApiError, AppState};

pub const CODE_TTL: i64 = 60;
pub const ACCESS_TTL: i64 = 3600;
pub const REFRESH_TTL: i64 = 30 * 24 * 3600;
pub const ID_TOKEN_TTL: i64 = 3600;

/// What the user granted to a client in one authorization.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Grant {
    pub client_id: String,
    pub pk: String,
    /// Granted scopes, without modifiers.
    pub scope: String,
    /// The scope as the client asked for it (modifiers and all): a refresh
    /// may repeat it.
    #[serde(default)]
    pub requested_scope: String,
    pub claims: Map<String, Value>,
    pub auth_time: i64,
    pub nonce: Option<String>,
    /// The SSO session (`sid` claim).
    pub sid: String,
    pub family: String,
    /// DPoP: the thumbprint of the key the tokens are bound to (`cnf.jkt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jkt: Option<String>,
}

/// A code, bound to where it may be redeemed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodeData {
    pub grant: Grant,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    /// Redeemed only with a DPoP proof by this key (RFC 9449 §10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
}

/// `sub` for `pk` at `client`: pairwise by default, per sector (the host of
/// the client's first redirect URI), so clients cannot correlate users.
pub fn subject(state: &AppState, client: &Client, pk: &str) -> String {
    match client.subject_type {
        SubjectType::Public => pk.to_string(),
        SubjectType::Pairwise => {
            let sector = client
                .redirect_uris
                .first()
                .and_then(|u| url::Url::parse(u).ok())
                .and_then(|u| u.host_str().map(str::to_string))
                .unwrap_or_else(|| client.client_id.clone());
            URL_SAFE_NO_PAD.encode(state.hasher.hash("sub", &format!("{sector}|{pk}")))
        }
    }
}

/// A new authorization code for `data` and its record (not stored yet).
pub fn new_code(state: &AppState, data: &CodeData) -> Result<(String, Record), ApiError> {
    let code = records::new_token();
    let grant = &data.grant;
    let record = records::new(
        CODE,
        &records::token_id(&code),
        &grant.family,
        Some(&grant.pk),
        data,
        state.now() + CODE_TTL,
    )?
    .granted(&grant.client_id, &grant.sid);
    Ok((code, record))
}

/// The record of access token `token` for `grant` (not stored yet).
pub fn access_record(state: &AppState, grant: &Grant, token: &str) -> Result<Record, ApiError> {
    records::new(
        ACCESS,
        &records::token_id(token),
        &grant.family,
        Some(&grant.pk),
        grant,
        state.now() + ACCESS_TTL,
    )
    .map(|r| r.granted(&grant.client_id, &grant.sid))
}

/// The record of refresh token `token` for `grant` (not stored yet).
pub fn refresh_record(state: &AppState, grant: &Grant, token: &str) -> Result<Record, ApiError> {
    records::new(
        REFRESH,
        &records::token_id(token),
        &grant.family,
        Some(&grant.pk),
        grant,
        state.now() + REFRESH_TTL,
    )
    .map(|r| r.granted(&grant.client_id, &grant.sid))
}

/// The left half of the hash of `value` that `alg` uses: `at_hash`/`c_hash`.
pub fn half_hash(alg: &str, value: &str) -> String {
    let digest: Vec<u8> = if alg == "EdDSA" {
        Sha512::digest(value.as_bytes()).to_vec()
    } else {
        Sha256::digest(value.as_bytes()).to_vec()
    };
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

/// The ID token for `grant`, signed with the client's algorithm.
pub fn id_token(
    state: &AppState,
    client: &Client,
    grant: &Grant,
    access_token: Option<&str>,
    code: Option<&str>,
) -> Result<String, ApiError> {
    let now = state.now();
    let alg = client.id_token_signed_response_alg.as_str();
    let mut claims = json!({
        "iss": state.config.base_url(),
        "sub": subject(state, client, &grant.pk),
        "aud": client.client_id,
        "azp": client.client_id,
        "exp": now + ID_TOKEN_TTL,
        "iat": now,
        "auth_time": grant.auth_time,
        "sid": grant.sid,
    });
    if let Some(obj) = claims.as_object_mut() {
        if let Some(n) = &grant.nonce {
            obj.insert("nonce".into(), json!(n));
        }
        if let Some(at) = access_token {
            obj.insert("at_hash".into(), json!(half_hash(alg, at)));
        }
        if let Some(c) = code {
            obj.insert("c_hash".into(), json!(half_hash(alg, c)));
        }
        for (k, v) in &grant.claims {
            obj.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    let alg_parsed: super::keys::IdTokenAlg = alg
        .parse()
        .map_err(|_| ApiError::internal("client has an unsupported ID token algorithm"))?;
    state
        .keys()
        .oidc
        .sign(
            alg_parsed,
            &claims,
            client.client_secret.as_deref().map(str::as_bytes),
            now,
        )
        .map_err(|e| {
            tracing::error!(error = %e, "cannot sign an ID token");
            ApiError::internal("cannot sign the ID token")
        })
}

/// Verifies an `id_token_hint`: an ID token this provider issued (any of
/// its keys; HS256 with its client's secret), expired or not, for a known
/// client. Returns its claims and the client.
pub async fn verify_id_token_hint(
    state: &AppState,
    token: &str,
) -> Result<(Value, Client), &'static str> {
    // The audience picks the HS256 secret; it is checked once verified.
    let unverified_aud = token
        .split('.')
        .nth(1)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|c| audience(&c));
    let client = match unverified_aud {
        Some(aud) => super::clients::find(state, &aud)
            .await
            .map_err(|_| "the client of the hint cannot be read")?
            .ok_or("the hint is for an unknown client")?,
        None => return Err("the hint is not an ID token"),
    };
    let claims = state
        .keys()
        .oidc
        .verify_signature(
            token,
            client.client_secret.as_deref().map(str::as_bytes),
            state.now(),
        )
        .map_err(|_| "the hint is not an ID token this server issued")?;
    if claims["iss"] != state.config.base_url()
        || audience(&claims).as_deref() != Some(&client.client_id)
    {
        return Err("the hint is not an ID token this server issued");
    }
    Ok((claims, client))
}

/// An ID token's one audience.
fn audience(claims: &Value) -> Option<String> {
    match &claims["aud"] {
        Value::String(a) => Some(a.clone()),
        Value::Array(a) if a.len() == 1 => a[0].as_str().map(str::to_string),
        _ => None,
    }
}

/// The claims a grant lets `/userinfo` show.
pub fn userinfo(state: &AppState, client: &Client, grant: &Grant) -> Value {
    let mut out = Map::new();
    out.insert("sub".into(), json!(subject(state, client, &grant.pk)));
    for (k, v) in &grant.claims {
        out.entry(k.clone()).or_insert_with(|| v.clone());
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_hash_matches_oidc_core_example() {
        // OIDC Core A.3/A.4 example: access token "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
        // has at_hash "77QmUPtjPfzWtF2AnpK9RQ" with RS256.
        assert_eq!(
            half_hash("RS256", "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
        assert_eq!(half_hash("EdDSA", "x").len(), 43);
    }
}
