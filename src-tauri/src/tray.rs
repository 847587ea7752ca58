//! The tray icon: the pending-request count, Open and Quit. Closing the
//! window destroys it (freeing WebKit's processes); the app and its device
//! channel keep running here until Quit.

use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIcon, TrayIconBuilder, TrayIconEvent};
use tauri::{App, AppHandle, Manager, Wry};

use crate::events;

const OPEN: &str = "open";
const QUIT: &str = "quit";

/// What the tray keeps to update its title.
struct Tray {
    status: MenuItem<Wry>,
    icon: TrayIcon<Wry>,
}

/// "Authentiq — 2 pending": the tooltip and the menu's first line.
pub fn title(pending: usize) -> String {
    match pending {
        0 => "Authentiq — no pending sign-ins".into(),
        n => format!("Authentiq — {n} pending"),
    }
}

pub fn create(app: &App) -> tauri::Result<()> {
    let status = MenuItem::with_id(app, "status", title(0), false, None::<&str>)?;
    let separator = PredefinedMenuItem::separator(app)?;
    let open = MenuItem::with_id(app, OPEN, "Open Authentiq", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, QUIT, "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&status, &separator, &open, &quit])?;
    let mut builder = TrayIconBuilder::with_id("main")
        .tooltip(title(0))
        .menu(&menu)
        .show_menu_on_left_click(false)
        .on_menu_event(|app, event| match event.id().as_ref() {
            OPEN => events::show_main(app),
            QUIT => app.exit(0),
            _ => {}
        })
        // Where the platform reports clicks (not Linux: there the menu opens).
        .on_tray_icon_event(|tray, event| {
            if let TrayIconEvent::Click {
                button: MouseButton::Left,
                button_state: MouseButtonState::Up,
                ..
            } = event
            {
                events::show_main(tray.app_handle());
            }
        });
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    let icon = builder.build(app)?;
    app.manage(Tray { status, icon });
    Ok(())
}

/// Shows the number of pending requests.
pub fn set_pending(app: &AppHandle, pending: usize) {
    let Some(tray) = app.try_state::<Tray>() else {
        return;
    };
    let text = title(pending);
    if let Err(e) = tray.status.set_text(&text) {
        tracing::warn!("cannot update the tray menu: {e}");
    }
    // Linux shows no tooltips; elsewhere this is the hover text.
    let _ = tray.icon.set_tooltip(Some(&text));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_counts_pending_requests() {
        assert_eq!(title(0), "Authentiq — no pending sign-ins");
        assert_eq!(title(1), "Authentiq — 1 pending");
        assert_eq!(title(2), "Authentiq — 2 pending");
    }
}
