//! What registering, updating and deleting a client does, whoever asks:
//! the HTTP API ([`super`]) and the owners' dashboard both come here, so a
//! client is made, validated, given a secret and stored one way only.

use authentiq_protocol::errors::OAuthErrorCode;

use super::metadata::{self, Metadata};
use crate::oidc::clients::Client;
use crate::oidc::error::OAuthErr;
use crate::security::ClientIp;
use crate::{ApiError, AppState};

/// A client just registered, with the credentials shown only this once.
#[derive(Debug)]
pub struct Created {
    pub client: Client,
    /// `None` for a public client.
    pub secret: Option<String>,
    pub registration_access_token: String,
}

/// The registrations-per-address limit (`rate.registrations_per_ip_per_hour`).
pub async fn limit(state: &AppState, ip: &ClientIp) -> Result<(), ApiError> {
    state
        .rate_limit(
            format!("client-register:{ip}"),
            state.config.rate.registrations_per_ip_per_hour,
            3600,
            "client registrations from this address",
        )
        .await
}

/// Whether `client_id` is a client of the configuration file (managed
/// there, not over HTTP or in the dashboard).
pub fn in_config(state: &AppState, client_id: &str) -> bool {
    state
        .config
        .clients
        .iter()
        .any(|c| c.client_id == client_id)
}

/// Registers the client `meta` describes, owned by `owner` (an account id).
pub async fn create(
    state: &AppState,
    owner: Option<String>,
    meta: &Metadata,
) -> Result<Created, OAuthErr> {
    let now = state.now();
    let base = Client {
        client_id: crate::secrets::new_job_id(),
        owner,
        client_id_issued_at: Some(now),
        ..Client::default()
    };
    let mut client = metadata::to_client(meta, base)?;
    let secret = new_secret(state, &mut client)?;
    check(&client, secret.as_deref())?;
    let registration_access_token = crate::secrets::new_secret();
    client.registration_access_token_sha256 =
        Some(crate::secrets::hash_secret_b64(&registration_access_token));
    let data = stored_json(&client)?;
    let (id, owner_id) = (client.client_id.clone(), client.owner.clone());
    state
        .db
        .call(move |s| s.insert_client(&id, &data, owner_id.as_deref(), now))
        .await
        .map_err(ApiError::from)?;
    tracing::info!(client = %client.client_id, owner = ?client.owner, "registered a client");
    Ok(Created {
        client,
        secret,
        registration_access_token,
    })
}

/// Replaces `current`'s metadata with `meta` (RFC 7592 §2.2) and stores
/// it; `rotate_secret` issues a new secret (the old one stops working).
/// The new secret, if one was issued, comes back with the client.
pub async fn update(
    state: &AppState,
    current: Client,
    meta: &Metadata,
) -> Result<(Client, Option<String>), OAuthErr> {
    if let Some(s) = &meta.client_secret
        && !current.verify_secret(s)
    {
        return Err(OAuthErr::new(
            OAuthErrorCode::InvalidClientMetadata,
            "client_secret is not this client's secret",
        ));
    }
    let mut client = metadata::to_client(meta, current.clone())?;
    let was_public = current.is_public();
    let needs_secret = !client.is_public()
        && (was_public
            || (client.id_token_signed_response_alg == "HS256"
                && current.client_secret_sealed.is_none()));
    let mut secret = None;
    if meta.rotate_secret == Some(true) || client.is_public() != was_public || needs_secret {
        if needs_secret && meta.rotate_secret != Some(true) && meta.client_secret.is_some() {
            // Keep the secret the client sent (it proved it), sealed now.
            if let Some(s) = &meta.client_secret {
                client.client_secret_sealed = Some(
                    state
                        .sealer
                        .seal(s, &client.client_id)
                        .map_err(|e| OAuthErr::from(ApiError::internal(e)))?,
                );
            }
        } else {
            secret = new_secret(state, &mut client)?;
        }
    } else if client.id_token_signed_response_alg != "HS256" {
        client.client_secret_sealed = None;
    }
    check(
        &client,
        secret
            .as_deref()
            .or(meta.client_secret.as_deref())
            .or(current.client_secret.as_deref()),
    )?;
    let data = stored_json(&client)?;
    let owned = client.client_id.clone();
    state
        .db
        .call(move |s| s.update_client(&owned, &data))
        .await
        .map_err(ApiError::from)?;
    Ok((client, secret))
}

/// Deletes a stored client: its tokens stop working with it.
pub async fn delete(state: &AppState, client_id: &str) -> Result<(), ApiError> {
    let owned = client_id.to_string();
    state.db.call(move |s| s.delete_client(&owned)).await?;
    tracing::info!(client = %client_id, "deleted a client");
    Ok(())
}

/// The metadata that describes `client` as it is, to change a few
/// members of and [`update`] with (the dashboard's edit forms).
pub fn current_metadata(client: &Client, base_url: &str) -> Result<Metadata, ApiError> {
    let shown = serde_json::Value::Object(metadata::show(client, base_url).0);
    serde_json::from_value(shown).map_err(|e| {
        tracing::error!(error = %e, client = %client.client_id, "a client's metadata does not read back");
        ApiError::internal("cannot read the client's metadata")
    })
}

/// Gives `client` a new secret (when confidential): the hash to check it,
/// sealed for HS256 clients, whose ID tokens are keyed with it.
fn new_secret(state: &AppState, client: &mut Client) -> Result<Option<String>, OAuthErr> {
    client.client_secret = None;
    client.client_secret_sealed = None;
    if client.is_public() {
        client.client_secret_sha256 = None;
        return Ok(None);
    }
    let secret = crate::secrets::new_secret();
    client.client_secret_sha256 = Some(crate::secrets::hash_secret_b64(&secret));
    if client.id_token_signed_response_alg == "HS256" {
        client.client_secret_sealed = Some(
            state
                .sealer
                .seal(&secret, &client.client_id)
                .map_err(|e| OAuthErr::from(ApiError::internal(e)))?,
        );
    }
    Ok(Some(secret))
}

/// The shared client validation (the configuration's), with the secret in
/// hand for the HS256 rule.
fn check(client: &Client, secret: Option<&str>) -> Result<(), OAuthErr> {
    let mut probe = client.clone();
    probe.client_secret = secret
        .map(str::to_string)
        .or_else(|| probe.client_secret.clone());
    probe
        .validate()
        .map_err(|e| OAuthErr::new(OAuthErrorCode::InvalidClientMetadata, e))
}

fn stored_json(client: &Client) -> Result<String, OAuthErr> {
    let mut c = client.clone();
    c.client_secret = None;
    serde_json::to_string(&c).map_err(|e| ApiError::internal(e.to_string()).into())
}
