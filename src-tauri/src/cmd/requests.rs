//! Sign-in requests: approve, deny, open from a session URI.

use authentiq_authenticator::app::now;
use tauri::State;

use crate::deeplink::check_session;
use crate::error::{CmdResult, CommandError, session_error};
use crate::state::{AppState, blocking_async};
use crate::views::RequestView;

/// Approves with the number the user picked — `null` for a backchannel
/// request (no sign-in page, no number: the user checked its binding
/// message). Required claims are always shared; optional ones only when
/// named in `share`.
#[tauri::command]
pub async fn approve(
    id: String,
    number: Option<u16>,
    share: Vec<String>,
    remember: bool,
    state: State<'_, AppState>,
) -> CmdResult<()> {
    let identity = state.authenticator()?;
    let result = blocking_async(move || async move {
        // Say it here rather than let the server refuse.
        if let Some(r) = identity.inbox()?.iter().find(|r| r.id == id) {
            let view = RequestView::new(r, &identity.grants()?);
            if let Some(claim) = view.missing_required() {
                return Err(CommandError::Invalid(format!(
                    "{} requires a verified {}: verify one first (on the home screen).",
                    view.client_name,
                    claim.label.to_lowercase()
                )));
            }
        }
        identity
            .approve(&id, number, &share, remember)
            .await
            .map(drop)
            .map_err(session_error)
    })
    .await;
    // Approved, or refused and recorded: either way it left the inbox.
    state.refresh();
    result
}

/// Denies; with `report`, tells the server it was not the user.
#[tauri::command]
pub async fn deny(id: String, report: bool, state: State<'_, AppState>) -> CmdResult<()> {
    let identity = state.authenticator()?;
    let result = blocking_async(move || async move {
        identity
            .deny(&id, report)
            .await
            .map(drop)
            .map_err(session_error)
    })
    .await;
    state.refresh();
    result
}

/// Opens a sign-in from its session URI (pasted, or from a deep link).
#[tauri::command]
pub async fn open_session(uri: String, state: State<'_, AppState>) -> CmdResult<RequestView> {
    open(&state, &uri).await
}

/// Fetches the signed request behind `uri` into the inbox and returns it.
pub async fn open(state: &AppState, uri: &str) -> CmdResult<RequestView> {
    let identity = state.authenticator()?;
    let uri = check_session(uri, &identity.profile().server)?;
    let result = blocking_async(move || async move {
        let r = identity.open_session(&uri).await.map_err(session_error)?;
        let grants = identity.grants()?;
        match identity.inbox()?.iter().find(|p| p.id == r.id) {
            Some(pending) => Ok(RequestView::new(pending, &grants)),
            None if r.expires_at <= now() => Err(CommandError::Expired(
                "This sign-in has expired: start it again on the website.".into(),
            )),
            None => Err(CommandError::NotFound(
                "This sign-in was already answered.".into(),
            )),
        }
    })
    .await;
    state.refresh();
    result
}
