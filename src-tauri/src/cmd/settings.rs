//! `get_settings()` and `set_settings(settings)`.

use tauri::{AppHandle, State};
use tauri_plugin_autostart::ManagerExt;

use crate::error::{CmdResult, CommandError};
use crate::settings::{self, Settings, normalize_server};
use crate::state::{AppState, blocking, lock};

/// The settings; `server` is the identity's own server once there is one.
#[tauri::command]
pub async fn get_settings(state: State<'_, AppState>) -> CmdResult<Settings> {
    let mut s = lock(&state.settings).clone();
    match state.current() {
        Some((_, identity)) => s.server = identity.profile().server.clone(),
        None if s.server.is_empty() => s.server = state.env.server.clone().unwrap_or_default(),
        None => {}
    }
    Ok(s)
}

#[tauri::command]
pub async fn set_settings(
    settings: Settings,
    app: AppHandle,
    state: State<'_, AppState>,
) -> CmdResult<()> {
    let server = match settings.server.trim() {
        "" => String::new(),
        typed => normalize_server(typed)?,
    };
    let server = match state.current() {
        None => server,
        Some((_, identity)) => {
            let own = &identity.profile().server;
            if !server.is_empty() && server != *own {
                return Err(CommandError::Invalid(format!(
                    "Your Authentiq ID is on {own}. To use {server}, revoke it and create a new one."
                )));
            }
            own.clone()
        }
    };
    let new = Settings { server, ..settings };
    let old = lock(&state.settings).clone();
    let file = settings::path(&state.env.home);
    let saved = new.clone();
    blocking(move || {
        if saved.start_at_login != old.start_at_login {
            apply_start_at_login(&app, saved.start_at_login)?;
        }
        saved.save(&file)
    })
    .await?;
    *lock(&state.settings) = new;
    Ok(())
}

/// Adds or removes the login item (on Linux an XDG autostart entry that
/// starts the app hidden, in the tray).
pub fn apply_start_at_login(app: &AppHandle, on: bool) -> CmdResult<()> {
    let autolaunch = app.autolaunch();
    let result = if on {
        autolaunch.enable()
    } else {
        autolaunch.disable()
    };
    result.map_err(|e| CommandError::Internal(format!("Cannot change start at login: {e}")))
}
