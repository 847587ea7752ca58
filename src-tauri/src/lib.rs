//! The Tauri shell: thin commands over `authentiq-authenticator`, a
//! background service that keeps the device channel open, a tray icon, and
//! `authentiq://` links.
//!
//! Environment: `AQ_HOME` (profile home), `AQ_PROFILE` (default `default`),
//! `AUTHENTIQ_SERVER` (offered during onboarding), `AQ_LOG` (log filter,
//! default `warn`).

mod cmd;
mod deeplink;
mod device_views;
mod error;
mod events;
mod service;
mod settings;
mod startup;
mod state;
mod tray;
mod views;

use std::sync::Arc;

use authentiq_authenticator::keystore::OsKeyring;
use tauri::{Manager, RunEvent, WindowEvent};

pub use error::CommandError;
use state::{AppState, Env};

/// The argument the login item starts the app with: no window, tray only.
const HIDDEN: &str = "--hidden";

/// Builds and runs the app; returns when the user quits.
pub fn run() {
    startup::begin();
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AQ_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .try_init();
    // `src-tauri/tauri.conf.json` (a link to the root's): paths in it are
    // relative to `src-tauri/`, as the tauri CLI reads them too.
    let context = tauri::generate_context!();
    let env = Env::from_env();
    let instance = env.instance_id(&context.config().identifier);
    let (state, hub) = AppState::new(env, Arc::new(OsKeyring::new()));

    let result = tauri::Builder::default()
        // First: a second launch hands over its arguments (and link) and exits.
        .plugin(
            tauri_plugin_single_instance::Builder::new()
                .dbus_id(instance)
                .callback(|app, args, _cwd| {
                    // A login item finding the app running stays quiet; a
                    // link is opened (and the window shown) by its handler.
                    let link = |a: &String| a.starts_with(&format!("{}:", deeplink::SCHEME));
                    let show = !args.iter().any(|a| a == HIDDEN || link(a));
                    if show {
                        events::show_main(app);
                    }
                    // Said from the event loop, once it has done what the
                    // launch asked of it (the window made and shown, or not).
                    let _ = app.run_on_main_thread(move || {
                        tracing::info!(window_shown = show, "a second launch handed over");
                    });
                })
                .build(),
        )
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_autostart::Builder::new().arg(HIDDEN).build())
        .manage(state)
        .invoke_handler(tauri::generate_handler![
            cmd::app::app_info,
            cmd::app::ui_painted,
            cmd::app::quit,
            cmd::status::status,
            cmd::identity::create_identity,
            cmd::identity::verify_start,
            cmd::identity::verify_finish,
            cmd::identity::id_qr_svg,
            cmd::identity::revoke,
            cmd::identity::unsaved_secret,
            cmd::identity::secret_saved,
            cmd::requests::approve,
            cmd::requests::deny,
            cmd::requests::open_session,
            cmd::history::history,
            cmd::sessions::sign_out_everywhere,
            cmd::settings::get_settings,
            cmd::settings::set_settings,
            cmd::devices::suggested_device_name,
            cmd::devices::devices,
            cmd::devices::rename_device,
            cmd::devices::remove_device,
            cmd::link::link_start,
            cmd::link::link_cancel,
            cmd::devices::answer_link,
            cmd::recover::recover_start,
            cmd::recover::recover_confirm,
            cmd::recover::recover_complete,
            cmd::recover::recover_abandon,
            cmd::devices::cancel_recovery,
        ])
        // Closing the window destroys it (and WebKit's processes), except
        // while the new ID's revocation secret is on it, not yet confirmed
        // saved: then it only hides, the page as it was.
        .on_window_event(|window, event| {
            if let WindowEvent::CloseRequested { api, .. } = event
                && window.label() == events::MAIN_WINDOW
                && window.state::<AppState>().has_unsaved_secret()
            {
                api.prevent_close();
                let _ = window.hide();
            }
        })
        .setup(move |app| {
            startup::mark("setup");
            let state = app.state::<AppState>();
            state.open_existing();
            if let Err(e) = tray::create(app) {
                // No tray (no StatusNotifier host): the window is the way in.
                tracing::warn!("no tray icon: {e}");
            }
            service::start(app.handle(), hub);
            deeplink::init(app);
            // The window (and WebKit's processes with it) exists only while
            // shown: `"create": false` in the config, made here unless
            // started at login, and closing it destroys it (the tray's Open,
            // a notification, a link or a second launch make it again).
            let hidden = std::env::args().any(|a| a == HIDDEN);
            if !hidden || deeplink::started_with_link(app) {
                events::show_main(app.handle());
                startup::mark("window made");
            }
            if state.settings.lock().is_ok_and(|s| s.start_at_login) {
                // Keeps the login item pointing at this executable.
                let handle = app.handle().clone();
                tauri::async_runtime::spawn_blocking(move || {
                    if let Err(e) = cmd::settings::apply_start_at_login(&handle, true) {
                        tracing::warn!("{e}");
                    }
                });
            }
            Ok(())
        })
        .build(context);
    match result {
        Ok(app) => app.run(|_, event| {
            // Only Quit ends the app, not the last window closing.
            if let RunEvent::ExitRequested {
                code: None, api, ..
            } = event
            {
                api.prevent_exit();
            }
        }),
        Err(e) => {
            eprintln!("authentiq-desktop: cannot start: {e}");
            std::process::exit(1);
        }
    }
}
