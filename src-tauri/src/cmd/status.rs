//! `status()`: everything the home screen needs, in one call.

use serde::Serialize;
use tauri::{AppHandle, State};

use crate::device_views::{DeviceRequest, LinkingView, RecoveringView};
use crate::error::CmdResult;
use crate::events;
use crate::state::{AppState, SecretKind, blocking, snapshot};
use crate::views::{ProfileView, RequestView};

#[derive(Debug, Serialize)]
pub struct Status {
    pub profile: Option<ProfileView>,
    pub connected: bool,
    /// Why the device channel cannot run (a locked keyring…), if it cannot.
    pub channel_problem: Option<String>,
    pub pending: Vec<RequestView>,
    /// A server to offer during onboarding (`AUTHENTIQ_SERVER`).
    pub default_server: Option<String>,
    /// The new ID's revocation secret has not been confirmed saved: the
    /// onboarding resumes there (`unsaved_secret()`).
    pub secret_unsaved: bool,
    /// Which secret that is: `revocation` (a new ID) or `recovery` (a
    /// recovered ID's new one).
    pub unsaved_secret_kind: Option<SecretKind>,
    /// This computer waits to be linked to an existing ID (the number to
    /// pick on the other device), if it does.
    pub linking: Option<LinkingView>,
    /// This computer is recovering an ID (not usable until it completes).
    pub recovering: Option<RecoveringView>,
    /// What the ID's other devices ask of this one.
    pub device_requests: Vec<DeviceRequest>,
}

#[tauri::command]
pub async fn status(app: AppHandle, state: State<'_, AppState>) -> CmdResult<Status> {
    crate::startup::mark("the UI asks for its status");
    events::ui_ready(&app);
    // The user is here: a channel waiting for a locked keyring may try again.
    state.kick.kick();
    let (profile, pending) = match state.current() {
        None => (None, Vec::new()),
        Some((_, identity)) => {
            let (profile, pending) = blocking(move || snapshot(&identity)).await?;
            (Some(profile), pending)
        }
    };
    Ok(Status {
        profile,
        connected: state.connected(),
        channel_problem: state.channel_problem(),
        pending,
        default_server: state.default_server(),
        secret_unsaved: state.has_unsaved_secret(),
        unsaved_secret_kind: state.unsaved_secret_kind(),
        linking: state.linking(),
        recovering: state.recovering().map(|r| r.view),
        device_requests: state.device_requests(),
    })
}
