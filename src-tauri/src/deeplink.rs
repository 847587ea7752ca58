//! `authentiq://sign-in?session=<uri>` links: from the sign-in page's
//! button or QR code. The first launch gets the link as its argument; a
//! later launch hands it to the running app (single-instance plugin) and
//! exits.

use tauri::{App, AppHandle, Manager};
use tauri_plugin_deep_link::DeepLinkExt;
use url::Url;

use crate::cmd::requests;
use crate::error::CommandError;
use crate::events;
use crate::state::AppState;

pub const SCHEME: &str = "authentiq";

/// The session URI a link carries.
pub fn session_of(link: &Url) -> Result<String, CommandError> {
    let invalid =
        |why: &str| CommandError::Invalid(format!("Not an Authentiq sign-in link: {why}."));
    if link.scheme() != SCHEME {
        return Err(invalid("its scheme is not authentiq:"));
    }
    // `authentiq://sign-in?…` names the action as its host; `authentiq:sign-in?…` as its path.
    let action = link
        .host_str()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| link.path())
        .trim_matches('/');
    if action != "sign-in" {
        return Err(invalid("it is not a sign-in"));
    }
    link.query_pairs()
        .find(|(k, _)| k == "session")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| invalid("it names no session"))
}

/// A session URI the app may fetch: http(s), on the identity's own server
/// (a link must not make the app fetch anything else). A pasted
/// `authentiq://sign-in?session=…` link counts as the session it carries.
pub fn check_session(uri: &str, server: &str) -> Result<String, CommandError> {
    // A pasted link counts as the session it carries.
    let uri = match Url::parse(uri.trim()) {
        Ok(link) if link.scheme() == SCHEME => session_of(&link)?,
        _ => uri.trim().to_string(),
    };
    let session = Url::parse(&uri)
        .map_err(|e| CommandError::Invalid(format!("{uri:?} is not a sign-in session URI: {e}")))?;
    if !matches!(session.scheme(), "http" | "https") {
        return Err(CommandError::Invalid(format!(
            "{uri:?} is not a sign-in session URI (http or https)"
        )));
    }
    let home = Url::parse(server)
        .map_err(|e| CommandError::Internal(format!("the server URL {server:?}: {e}")))?;
    if session.origin() != home.origin() {
        return Err(CommandError::Invalid(format!(
            "This sign-in is on {}, but your Authentiq ID is on {server}.",
            session.origin().ascii_serialization()
        )));
    }
    Ok(uri)
}

/// Handles the link the app was started with, and those forwarded later.
pub fn init(app: &App) {
    let deep_link = app.deep_link();
    let handle = app.handle().clone();
    deep_link.on_open_url(move |event| {
        for link in event.urls() {
            open(&handle, link);
        }
    });
    if let Ok(Some(links)) = deep_link.get_current() {
        for link in links {
            open(app.handle(), link);
        }
    }
    // An installed package registers the scheme in its .desktop file; an
    // AppImage has none, so it registers itself.
    #[cfg(target_os = "linux")]
    if app.env().appimage.is_some()
        && let Err(e) = deep_link.register_all()
    {
        tracing::warn!("cannot register the authentiq: scheme: {e}");
    }
}

/// Whether the app was started to open a link (so it shows its window
/// even when started hidden).
pub fn started_with_link(app: &App) -> bool {
    matches!(app.deep_link().get_current(), Ok(Some(links)) if !links.is_empty())
}

fn open(app: &AppHandle, link: Url) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let result = match session_of(&link) {
            Ok(session) => requests::open(&app.state::<AppState>(), &session).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(request) => events::navigate(&app, &request.id),
            Err(e) => {
                // The link itself is a bearer of the session: not logged.
                tracing::warn!(kind = e.kind(), "cannot open the sign-in link");
                events::link_error(&app, &e.to_string());
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(s: &str) -> Result<String, CommandError> {
        session_of(&Url::parse(s).unwrap())
    }

    #[test]
    fn reads_the_session_the_server_links_to() {
        assert_eq!(
            link("authentiq://sign-in?session=https%3A%2F%2Fid.example%2Fsign-in%2Fs3ss10n-1d")
                .unwrap(),
            "https://id.example/sign-in/s3ss10n-1d"
        );
        assert_eq!(
            link("authentiq:sign-in?session=http://127.0.0.1:8080/sign-in/x").unwrap(),
            "http://127.0.0.1:8080/sign-in/x"
        );
        assert_eq!(
            link("authentiq://sign-in/?other=1&session=https%3A%2F%2Fa%2Fb").unwrap(),
            "https://a/b"
        );
    }

    #[test]
    fn refuses_other_links() {
        for bad in [
            "https://id.example/sign-in?session=x",
            "authentiq://revoke?session=https%3A%2F%2Fa%2Fb",
            "authentiq://sign-in",
            "authentiq://sign-in?session=",
        ] {
            assert!(matches!(link(bad), Err(CommandError::Invalid(_))), "{bad}");
        }
    }

    #[test]
    fn sessions_must_be_on_the_identitys_server() {
        let server = "http://127.0.0.1:8080";
        assert_eq!(
            check_session(" http://127.0.0.1:8080/sign-in/abc ", server).unwrap(),
            "http://127.0.0.1:8080/sign-in/abc"
        );
        assert!(check_session("https://id.example:443/sign-in/a", "https://id.example").is_ok());
        // Pasted as the sign-in page's button links it.
        assert_eq!(
            check_session(
                "authentiq://sign-in?session=http%3A%2F%2F127.0.0.1%3A8080%2Fsign-in%2Fabc",
                server
            )
            .unwrap(),
            "http://127.0.0.1:8080/sign-in/abc"
        );
        for bad in [
            "http://127.0.0.1:8081/sign-in/abc",
            "http://localhost:8080/sign-in/abc",
            "https://127.0.0.1:8080/sign-in/abc",
            "file:///etc/passwd",
            "sign-in/abc",
            // A link carrying a session elsewhere is no better.
            "authentiq://sign-in?session=http%3A%2F%2F127.0.0.1%3A8081%2Fsign-in%2Fabc",
            "authentiq://sign-in?session=authentiq%3A%2F%2Fsign-in",
            "authentiq://revoke?session=http%3A%2F%2F127.0.0.1%3A8080%2Fsign-in%2Fabc",
        ] {
            assert!(
                matches!(check_session(bad, server), Err(CommandError::Invalid(_))),
                "{bad}"
            );
        }
    }
}
