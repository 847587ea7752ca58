//! Finding clients: one by its id ([`find`]: the configuration first, then
//! the store), every one ([`all`]) or the stored ones of an owner
//! ([`stored`]). A stored client is made ready as it is loaded: its sealed
//! secret opened, and suspended when its owner may no longer own clients.

use super::Client;
use crate::store::StoreError;
use crate::{ApiError, AppState};

/// Finds a client: the configuration first, then the database.
pub async fn find(state: &AppState, client_id: &str) -> Result<Option<Client>, ApiError> {
    if let Some(c) = state
        .config
        .clients
        .iter()
        .find(|c| c.client_id == client_id)
    {
        return Ok(Some(c.clone()));
    }
    let id = client_id.to_string();
    let data = match state.db.read(move |s| s.get_client(&id)).await {
        Ok(data) => data,
        Err(StoreError::NotFound) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    Ok(Some(loaded(state, &data).await?))
}

/// A stored client, made ready: its sealed secret opened, and suspended
/// when its owner may no longer own clients.
async fn loaded(state: &AppState, data: &str) -> Result<Client, ApiError> {
    let mut client: Client = serde_json::from_str(data).map_err(|e| {
        tracing::error!(error = %e, "a stored client does not parse");
        ApiError::internal("corrupt client record")
    })?;
    if let Some(sealed) = &client.client_secret_sealed {
        client.client_secret = Some(state.sealer.open(sealed, &client.client_id).map_err(|e| {
            tracing::error!(error = %e, client = %client.client_id, "cannot open a sealed client secret");
            ApiError::internal("cannot open the client secret")
        })?);
    }
    if let Some(owner) = client.owner.clone() {
        client.suspended = match state.db.read(move |s| s.get_account(&owner)).await {
            Ok(a) => {
                a.deactivated_at.is_some()
                    || !crate::accounts::Role::parse(&a.role).is_some_and(|r| r.may_own_clients())
            }
            Err(StoreError::NotFound) => true,
            Err(e) => return Err(e.into()),
        };
    }
    Ok(client)
}

/// Every client: the configuration's, then the database's.
pub async fn all(state: &AppState) -> Result<Vec<Client>, ApiError> {
    let mut out = state.config.clients.clone();
    out.extend(stored(state, None).await?);
    Ok(out)
}

/// The stored clients (those `owner` registered, or all).
pub async fn stored(state: &AppState, owner: Option<&str>) -> Result<Vec<Client>, ApiError> {
    let owner = owner.map(str::to_string);
    let rows = state
        .db
        .call(move |s| match owner {
            Some(o) => s.list_clients_of(&o),
            None => s.list_clients(),
        })
        .await?;
    let mut out = Vec::new();
    for (_, data) in rows {
        out.push(loaded(state, &data).await?);
    }
    Ok(out)
}
