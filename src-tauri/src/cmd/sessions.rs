//! `sign_out_everywhere()`: every sign-in session and refresh token of the
//! Authentiq ID ends on the server; the clients that asked are told.

use serde::Serialize;
use tauri::State;

use crate::error::CmdResult;
use crate::state::{AppState, blocking_async};

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct SignedOut {
    /// Clients the server sent a back-channel logout token.
    pub clients_told: u64,
}

/// Signs the ID out everywhere (the key stays: signing in again works).
#[tauri::command]
pub async fn sign_out_everywhere(state: State<'_, AppState>) -> CmdResult<SignedOut> {
    let identity = state.authenticator()?;
    let clients_told =
        blocking_async(move || async move { Ok(identity.sign_out_everywhere().await?) }).await?;
    tracing::info!(clients_told, "signed out everywhere");
    Ok(SignedOut { clients_told })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_the_contract_says() {
        assert_eq!(
            serde_json::to_value(SignedOut { clients_told: 2 }).unwrap(),
            serde_json::json!({ "clients_told": 2 })
        );
    }
}
