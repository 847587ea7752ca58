//! What the app is: name and version, for the window and the about box;
//! and the front end saying its first screen is up (for the startup log).

use serde::Serialize;

use crate::CommandError;

#[derive(Debug, Serialize)]
pub struct AppInfo {
    pub name: &'static str,
    pub version: &'static str,
}

#[tauri::command]
pub fn app_info() -> Result<AppInfo, CommandError> {
    Ok(AppInfo {
        name: "Authentiq",
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// The front end painted its first screen (onboarding, home or an error).
#[tauri::command]
pub fn ui_painted() {
    crate::startup::painted();
}

/// Quits the app (the window's close button only closes the window; the
/// tray has Quit too, but not every desktop shows a tray).
#[tauri::command]
pub fn quit(app: tauri::AppHandle) {
    tracing::info!("quit from the window");
    app.exit(0);
}
