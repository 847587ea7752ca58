//! What the app is: name and version, for the window and the about box.

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
