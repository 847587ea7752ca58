//! Several devices per Authentiq ID, on a device of the ID: its devices
//! (list, rename, remove), answering another device's link request, and
//! cancelling a recovery someone else started. Linking this computer to an
//! existing ID is in [`super::link`], recovering an ID here in
//! [`super::recover`].

use authentiq_authenticator::app::AppError;
use authentiq_authenticator::client::ClientError;
use tauri::{AppHandle, State};

use super::identity::non_empty;
use crate::device_views::{self, DeviceList, DeviceRequest, DeviceRequestKind};
use crate::error::{CmdResult, CommandError};
use crate::events;
use crate::state::{AppState, blocking_async};

pub(super) const RECOVERING: &str =
    "This computer is recovering an Authentiq ID: finish or abandon that first.";

/// Refuses to start something new while this computer links or recovers.
pub fn no_link_or_recovery(state: &AppState) -> CmdResult<()> {
    if state.is_linking() {
        return Err(CommandError::Invalid(
            "This computer is waiting to be linked to an ID: cancel that first.".into(),
        ));
    }
    if state.recovering().is_some() {
        return Err(CommandError::Invalid(RECOVERING.into()));
    }
    Ok(())
}

pub(super) fn no_identity_here(state: &AppState) -> CmdResult<()> {
    if let Some((_, identity)) = state.current() {
        return Err(CommandError::Invalid(format!(
            "This profile already has an Authentiq ID ({}).",
            identity.profile().pk
        )));
    }
    Ok(())
}

/// A name for this computer, offered when linking or recovering.
#[tauri::command]
pub fn suggested_device_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok());
    device_views::suggested_device_name(host.as_deref())
}

/// The ID's devices.
#[tauri::command]
pub async fn devices(state: State<'_, AppState>) -> CmdResult<DeviceList> {
    let identity = state.authenticator()?;
    let v = blocking_async(move || async move { Ok(identity.devices().await?) }).await?;
    DeviceList::from_answer(v).map_err(CommandError::Server)
}

#[tauri::command]
pub async fn rename_device(
    device: String,
    name: String,
    state: State<'_, AppState>,
) -> CmdResult<()> {
    let device = non_empty(&device, "the device")?;
    let name = non_empty(&name, "a name for the device")?;
    if name.chars().count() > 64 {
        return Err(CommandError::Invalid(
            "Keep the name to 64 characters or fewer.".into(),
        ));
    }
    let identity = state.authenticator()?;
    blocking_async(move || async move {
        identity.rename_device(&device, &name).await?;
        Ok(())
    })
    .await
}

/// Removes another device of the ID (its key stops working at once).
#[tauri::command]
pub async fn remove_device(device: String, state: State<'_, AppState>) -> CmdResult<()> {
    let device = non_empty(&device, "the device")?;
    let identity = state.authenticator()?;
    blocking_async(move || async move {
        if identity.identity()?.id().to_string() == device {
            return Err(CommandError::Invalid(
                "This is the device you are using: remove it from another device of your ID."
                    .into(),
            ));
        }
        identity.remove_device(&device).await?;
        Ok(())
    })
    .await
}

/// On a device of the ID: approves a new device's link with the number it
/// shows, or denies it (`number: null`).
#[tauri::command]
pub async fn answer_link(
    pairing: String,
    number: Option<u16>,
    app: AppHandle,
    state: State<'_, AppState>,
) -> CmdResult<()> {
    let pairing = non_empty(&pairing, "the link request")?;
    shown_request(
        &state.device_requests(),
        DeviceRequestKind::Link,
        &pairing,
        number,
    )?;
    let identity = state.authenticator()?;
    let url = pairing.clone();
    let answered = blocking_async(move || async move {
        Ok(match identity.answer_link(&url, number).await {
            Ok(_) => Ok(()),
            Err(e) => Err((decided(&e), CommandError::from(e))),
        })
    })
    .await?;
    // Answered, or refused for good (a wrong number decides it): it goes.
    let gone = match &answered {
        Ok(()) => true,
        Err((decided, _)) => *decided,
    };
    if gone && state.remove_device_request(&pairing) {
        events::device_requests_changed(&app, &state.device_requests());
    }
    answered.map_err(|(_, e)| e)
}

/// Only a request this app was pushed and still shows is answered (or a
/// recovery cancelled), and an approval only with one of its three numbers.
fn shown_request(
    open: &[DeviceRequest],
    kind: DeviceRequestKind,
    url: &str,
    number: Option<u16>,
) -> CmdResult<()> {
    let Some(r) = open.iter().find(|r| r.kind == kind && r.url == url) else {
        return Err(CommandError::NotFound(
            "That request is no longer open: it was answered, cancelled or expired.".into(),
        ));
    };
    match (number, r.numbers) {
        (Some(n), Some(numbers)) if !numbers.contains(&n) => Err(CommandError::Invalid(
            "Pick one of the three numbers the request shows.".into(),
        )),
        _ => Ok(()),
    }
}

/// Whether the server's refusal of an answer ends the link request (a
/// wrong number refuses the link; an ended one cannot be answered).
fn decided(e: &AppError) -> bool {
    matches!(
        e,
        AppError::Server(ClientError::Refused { kind, status, .. })
            if kind == "wrong-number" || *status == 404 || *status == 409 || *status == 410
    )
}

/// On a device of the ID: cancels a recovery someone started.
#[tauri::command]
pub async fn cancel_recovery(
    recovery: String,
    app: AppHandle,
    state: State<'_, AppState>,
) -> CmdResult<()> {
    let recovery = non_empty(&recovery, "the recovery")?;
    shown_request(
        &state.device_requests(),
        DeviceRequestKind::Recovery,
        &recovery,
        None,
    )?;
    let identity = state.authenticator()?;
    let url = recovery.clone();
    blocking_async(move || async move {
        identity.recovery_cancel(&url).await?;
        Ok(())
    })
    .await?;
    if state.remove_device_request(&recovery) {
        events::device_requests_changed(&app, &state.device_requests());
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use super::*;
    use authentiq_authenticator::keystore::{KeyStore, KeyStoreError};
    use zeroize::Zeroizing;

    /// Opening a profile touches no key.
    #[derive(Debug)]
    pub(crate) struct NoKeys;

    impl KeyStore for NoKeys {
        fn load(&self, _: &str) -> Result<Option<Zeroizing<[u8; 32]>>, KeyStoreError> {
            Ok(None)
        }
        fn store(&self, _: &str, _: &[u8; 32]) -> Result<(), KeyStoreError> {
            Ok(())
        }
        fn delete(&self, _: &str) -> Result<(), KeyStoreError> {
            Ok(())
        }
    }

    /// A home with a written profile, as `Authenticator::recover` leaves it.
    pub(crate) fn home_with_profile() -> tempfile::TempDir {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join("default");
        std::fs::create_dir_all(&dir).unwrap();
        let profile = serde_json::json!({
            "name": "default",
            "server": "http://127.0.0.1:8080",
            "pk": "0Ya4FtGAeIIdFv9hIHDzqJOTGAO4vVdnM9PyTj3Fbsk",
            "created_at": 1,
        });
        std::fs::write(dir.join("profile.json"), profile.to_string()).unwrap();
        home
    }

    pub(crate) fn state_over(home: &std::path::Path) -> AppState {
        let env = crate::state::Env {
            home: home.to_path_buf(),
            profile: "default".into(),
            server: None,
        };
        AppState::new(env, Arc::new(NoKeys)).0
    }

    fn request(kind: DeviceRequestKind, url: &str) -> DeviceRequest {
        DeviceRequest {
            kind,
            url: url.into(),
            device: "d".into(),
            name: "New laptop".into(),
            ip: "127.0.0.1".into(),
            user_agent: None,
            numbers: (kind == DeviceRequestKind::Link).then_some([11, 22, 33]),
            completes_at: None,
            received_at: 0,
            ends_at: 100,
        }
    }

    #[test]
    fn only_a_shown_request_is_answered_and_only_with_one_of_its_numbers() {
        let open = [
            request(DeviceRequestKind::Link, "https://s/link/p1"),
            request(DeviceRequestKind::Recovery, "https://s/recovery/r1"),
        ];
        let link = DeviceRequestKind::Link;
        assert!(shown_request(&open, link, "https://s/link/p1", Some(22)).is_ok());
        assert!(
            shown_request(&open, link, "https://s/link/p1", None).is_ok(),
            "a denial"
        );
        assert!(matches!(
            shown_request(&open, link, "https://s/link/p1", Some(44)),
            Err(CommandError::Invalid(_))
        ));
        assert!(matches!(
            shown_request(&open, link, "https://s/link/other", Some(22)),
            Err(CommandError::NotFound(_))
        ));
        let recovery = DeviceRequestKind::Recovery;
        assert!(shown_request(&open, recovery, "https://s/recovery/r1", None).is_ok());
        assert!(matches!(
            shown_request(&open, recovery, "https://s/link/p1", None),
            Err(CommandError::NotFound(_))
        ));
    }

    #[test]
    fn a_wrong_number_or_an_ended_link_request_is_decided() {
        let refused = |status: u16, kind: &str| {
            AppError::Server(ClientError::Refused {
                status,
                kind: kind.into(),
                title: "t".into(),
                detail: "d".into(),
            })
        };
        assert!(decided(&refused(403, "wrong-number")));
        assert!(decided(&refused(404, "not-found")));
        assert!(decided(&refused(409, "conflict")));
        assert!(!decided(&refused(401, "auth-error")), "a retry may work");
        assert!(!decided(&AppError::Io("network".into())));
    }
}
