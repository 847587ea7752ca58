//! The Tauri shell: thin commands over `authentiq-authenticator`.

mod cmd;
mod error;

pub use error::CommandError;

/// Builds and runs the app; returns when the last window closes.
pub fn run() {
    let result = tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![cmd::app::app_info])
        .run(tauri::generate_context!("../tauri.conf.json"));
    if let Err(e) = result {
        eprintln!("authentiq-desktop: cannot start: {e}");
        std::process::exit(1);
    }
}
