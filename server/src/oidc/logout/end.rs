//! Ending sessions: one SSO session (RP-initiated logout), or everything a
//! key holds (sign out everywhere, revocation). Either way the clients that
//! hold grants from them are told over the back channel.

use super::backchannel;
use crate::oidc::records;
use crate::security::{self, Kind, Subject};
use crate::store::ClientSession;
use crate::{ApiError, AppState};

/// Ends the SSO session `sid` of `pk`: the session goes (and with it the
/// grants issued in it without `offline_access`), and its clients are told.
pub async fn end_sso_session(state: &AppState, sid: &str, pk: &str) -> Result<usize, ApiError> {
    let (owned, now) = (sid.to_string(), state.now());
    let clients = state
        .db
        .call(move |s| s.session_clients(&owned, now))
        .await?;
    records::revoke_family(state, sid).await?;
    let sessions: Vec<ClientSession> = clients
        .into_iter()
        .map(|client_id| ClientSession {
            client_id,
            sid: Some(sid.to_string()),
        })
        .collect();
    let told = backchannel::notify(state, pk, &sessions).await?;
    security::record(
        state,
        Kind::SignedOut,
        Subject {
            pk: Some(pk),
            ..Subject::default()
        },
        Some("one session".into()),
    )
    .await?;
    Ok(told)
}

/// The clients holding live grants of `pk`, with their sessions (read
/// before they are revoked, to tell them afterwards).
pub async fn sessions_of_key(state: &AppState, pk: &str) -> Result<Vec<ClientSession>, ApiError> {
    let (owned, now) = (pk.to_string(), state.now());
    Ok(state.db.call(move |s| s.key_sessions(&owned, now)).await?)
}

/// Signs `pk` out everywhere: every SSO session and every grant (offline
/// ones too) ends, and each client is told. Returns how many were told.
pub async fn sign_out_everywhere(state: &AppState, pk: &str) -> Result<usize, ApiError> {
    let sessions = sessions_of_key(state, pk).await?;
    let (owned, until) = (
        pk.to_string(),
        state.now() + crate::store::FAMILY_REVOCATION_TTL,
    );
    state
        .db
        .call(move |s| s.revoke_families_of_key(&owned, until))
        .await?;
    let told = backchannel::notify(state, pk, &sessions).await?;
    security::record(
        state,
        Kind::SignedOut,
        Subject {
            pk: Some(pk),
            ..Subject::default()
        },
        Some("everywhere".into()),
    )
    .await?;
    Ok(told)
}
