//! Several devices per Authentiq ID: this ID's devices (list, rename,
//! remove), linking this computer to an existing ID, answering another
//! device's link request, recovering an ID on this computer, and
//! cancelling a recovery someone else started.

use std::sync::{Arc, Mutex};

use authentiq_authenticator::Authenticator;
use authentiq_authenticator::app::AppError;
use authentiq_authenticator::client::ClientError;
use authentiq_authenticator::devices::LinkStarted;
use authentiq_authenticator::local::Local;
use serde::Serialize;
use tauri::{AppHandle, Manager, State};
use tokio::sync::oneshot;

use super::identity::{install_new, non_empty, qr_svg};
use crate::device_views::{self, DeviceList, LinkingView, RecoveringView};
use crate::error::{CmdResult, CommandError};
use crate::events;
use crate::settings::normalize_server;
use crate::state::{AppState, Recovering, SecretKind, blocking, blocking_async, lock};

/// Where a recovery in progress is kept in the profile's local state (so a
/// restart resumes it).
const META_RECOVERY: &str = "desktop.recovery";
const META_COMPLETES_AT: &str = "desktop.recovery.completes_at";
const META_PHONE: &str = "desktop.recovery.phone";

const RECOVERING: &str =
    "This computer is recovering an Authentiq ID: finish or abandon that first.";

/// What the authenticator says when the other device refused (or the
/// pairing ended).
const REFUSED: &str = "The link was refused on your other device, or it expired before anyone \
                       approved it.";

fn local_of(app: &Authenticator) -> Result<Local, CommandError> {
    Ok(Local::open(&app.dir().join("authenticator.sqlite3"))?)
}

/// The recovery this profile is in the middle of, if it is (SQLite: call
/// it off the async threads, or at start).
pub fn saved_recovery(app: &Authenticator) -> Option<RecoveringView> {
    let local = match local_of(app) {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!("cannot read the profile's recovery state: {e}");
            return None;
        }
    };
    let get = |k: &str| local.get_meta(k).ok().flatten().filter(|v| !v.is_empty());
    let recovery = get(META_RECOVERY)?;
    Some(RecoveringView {
        recovery,
        completes_at: get(META_COMPLETES_AT).and_then(|v| v.parse().ok()),
        phone_needed: get(META_PHONE).as_deref() == Some("1"),
    })
}

fn save_recovery(app: &Authenticator, view: Option<&RecoveringView>) -> CmdResult<()> {
    let local = local_of(app)?;
    let (recovery, completes_at, phone) = match view {
        Some(v) => (
            v.recovery.clone(),
            v.completes_at.map(|t| t.to_string()).unwrap_or_default(),
            if v.phone_needed { "1" } else { "0" },
        ),
        None => (String::new(), String::new(), ""),
    };
    local.set_meta(META_RECOVERY, &recovery)?;
    local.set_meta(META_COMPLETES_AT, &completes_at)?;
    local.set_meta(META_PHONE, phone)?;
    Ok(())
}

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

fn no_identity_here(state: &AppState) -> CmdResult<()> {
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

/// On a computer with no ID: asks to link it to the ID `id` as
/// `device_name`; answers once the server gave the number to show. The
/// link goes on in the background and ends with `link-finished`.
#[tauri::command]
pub async fn link_start(
    server: String,
    id: String,
    device_name: String,
    app: AppHandle,
    state: State<'_, AppState>,
) -> CmdResult<LinkingView> {
    let server = normalize_server(&server)?;
    let id = non_empty(&id, "the Authentiq ID to link to")?;
    let device_name = non_empty(&device_name, "a name for this computer")?;
    no_identity_here(&state)?;
    if state.recovering().is_some() {
        return Err(CommandError::Invalid(RECOVERING.into()));
    }
    let (cancel_tx, cancel_rx) = oneshot::channel();
    if !state.begin_link(cancel_tx) {
        return Err(CommandError::Invalid(
            "This computer is already waiting to be linked: cancel that first.".into(),
        ));
    }
    let (started_tx, started_rx) = oneshot::channel();
    tauri::async_runtime::spawn(run_link(
        app.clone(),
        LinkArgs {
            server,
            id,
            device_name,
        },
        started_tx,
        cancel_rx,
    ));
    started_rx
        .await
        .unwrap_or_else(|_| Err(CommandError::Internal("the link stopped at once".into())))
}

struct LinkArgs {
    server: String,
    id: String,
    device_name: String,
}

type Started = Arc<Mutex<Option<oneshot::Sender<CmdResult<LinkingView>>>>>;

#[derive(Debug, Clone, Serialize)]
pub struct LinkFinished {
    /// `linked` or `refused`.
    pub status: &'static str,
    pub message: Option<String>,
}

async fn run_link(
    app: AppHandle,
    args: LinkArgs,
    started: oneshot::Sender<CmdResult<LinkingView>>,
    cancel: oneshot::Receiver<()>,
) {
    let state = app.state::<AppState>();
    // One identity change at a time: held until the linked ID is installed.
    let _one_at_a_time = state.identity_lock.lock().await;
    if let Err(e) = no_identity_here(&state) {
        state.end_link();
        let _ = started.send(Err(e));
        return;
    }
    let started: Started = Arc::new(Mutex::new(Some(started)));
    let (home, profile, keystore) = (
        state.env.home.clone(),
        state.env.profile.clone(),
        state.keystore.clone(),
    );
    let (shown_app, shown_slot) = (app.clone(), started.clone());
    let result = blocking_async(move || async move {
        let mut shown = move |s: &LinkStarted| {
            let qr = qr_svg(&s.pairing).unwrap_or_else(|e| {
                tracing::warn!("{e}");
                String::new()
            });
            let view = LinkingView {
                pairing: s.pairing.clone(),
                number: s.number,
                qr_svg: qr,
            };
            shown_app.state::<AppState>().link_shown(view.clone());
            if let Some(tx) = lock(&shown_slot).take() {
                let _ = tx.send(Ok(view));
            }
        };
        let link = Authenticator::link(
            &home,
            &profile,
            &args.server,
            &args.id,
            &args.device_name,
            keystore,
            &mut shown,
        );
        tokio::select! {
            r = link => r.map_err(link_error),
            _ = cancel => Err(CommandError::Invalid("The link was cancelled.".into())),
        }
    })
    .await;
    let finished = match result {
        Ok(identity) => {
            install_new(&app, &state, identity, None).await;
            LinkFinished {
                status: "linked",
                message: None,
            }
        }
        Err(e) => {
            tracing::info!(kind = e.kind(), "the link ended without linking");
            state.end_link();
            // It failed before the server gave a number: the command says so.
            if let Some(tx) = lock(&started).take() {
                let _ = tx.send(Err(e));
                return;
            }
            LinkFinished {
                status: "refused",
                message: Some(e.to_string()),
            }
        }
    };
    state.end_link();
    events::link_finished(&app, &finished);
}

fn link_error(e: AppError) -> CommandError {
    match e {
        // What `Authenticator::link` says when the pairing ends unapproved.
        AppError::Io(_) => CommandError::Server(REFUSED.into()),
        AppError::ProfileExists(pk) => {
            CommandError::Invalid(format!("This profile already has an Authentiq ID ({pk})."))
        }
        other => other.into(),
    }
}

/// Stops waiting for the link (the server's pairing runs out by itself).
#[tauri::command]
pub fn link_cancel(state: State<'_, AppState>) {
    state.cancel_link();
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

/// Whether the server's refusal of an answer ends the link request (a
/// wrong number refuses the link; an ended one cannot be answered).
fn decided(e: &AppError) -> bool {
    matches!(
        e,
        AppError::Server(ClientError::Refused { kind, status, .. })
            if kind == "wrong-number" || *status == 404 || *status == 409 || *status == 410
    )
}

#[derive(Debug, Clone, Serialize)]
pub struct RecoveryStartedView {
    pub recovery: String,
    pub phone_needed: bool,
}

/// On a computer with no ID, every device of the ID lost: starts
/// recovering it with the recovery secret; codes go to the email (and the
/// phone). The profile is written, with a key that works nowhere until
/// the recovery completes.
#[tauri::command]
#[allow(clippy::too_many_arguments)]
pub async fn recover_start(
    server: String,
    id: String,
    device_name: String,
    email: String,
    phone: Option<String>,
    secret: String,
    state: State<'_, AppState>,
) -> CmdResult<RecoveryStartedView> {
    let server = normalize_server(&server)?;
    let id = non_empty(&id, "the Authentiq ID to recover")?;
    let device_name = non_empty(&device_name, "a name for this computer")?;
    let email = non_empty(&email, "the email address your ID verified")?;
    let phone = phone
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty());
    let secret = non_empty(&secret, "your recovery secret")?;
    // Said at once (a link holds the lock while it waits).
    no_link_or_recovery(&state)?;
    let _one_at_a_time = state.identity_lock.lock().await;
    no_identity_here(&state)?;
    no_link_or_recovery(&state)?;
    let (home, profile, keystore) = (
        state.env.home.clone(),
        state.env.profile.clone(),
        state.keystore.clone(),
    );
    let phone_needed = phone.is_some();
    let (app, view) = blocking_async(move || async move {
        let (app, v) = Authenticator::recover(
            &home,
            &profile,
            &server,
            &id,
            &device_name,
            &email,
            phone.as_deref(),
            &secret,
            keystore,
        )
        .await?;
        let recovery = v["recovery"]
            .as_str()
            .filter(|r| !r.is_empty())
            .ok_or_else(|| CommandError::Server("the server named no recovery".into()))?;
        let view = RecoveringView {
            recovery: recovery.to_string(),
            completes_at: None,
            phone_needed,
        };
        if let Err(e) = save_recovery(&app, Some(&view)) {
            tracing::warn!("the recovery will not survive a restart: {e}");
        }
        Ok((app, view))
    })
    .await?;
    state.set_recovering(Some(Recovering {
        app: Arc::new(app),
        view: view.clone(),
    }));
    Ok(RecoveryStartedView {
        recovery: view.recovery,
        phone_needed,
    })
}

fn recovering(state: &AppState) -> CmdResult<Recovering> {
    state.recovering().ok_or_else(|| {
        CommandError::NotFound("No recovery is in progress on this computer.".into())
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct RecoveryConfirmed {
    pub completes_at: i64,
}

/// Gives the codes sent to the email (and phone); the recovery then waits
/// out its delay, announced to the ID's devices.
#[tauri::command]
pub async fn recover_confirm(
    email_code: String,
    phone_code: Option<String>,
    state: State<'_, AppState>,
) -> CmdResult<RecoveryConfirmed> {
    let email_code = non_empty(&email_code, "the code sent to your email")?;
    let phone_code = phone_code
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty());
    let r = recovering(&state)?;
    if r.view.phone_needed && phone_code.is_none() {
        return Err(CommandError::Invalid(
            "Enter the code sent to your phone too.".into(),
        ));
    }
    let (app, mut view) = (r.app.clone(), r.view.clone());
    let view = blocking_async(move || async move {
        let v = app
            .recovery_confirm(&view.recovery, &email_code, phone_code.as_deref())
            .await?;
        let completes_at = v["completes_at"]
            .as_i64()
            .ok_or_else(|| CommandError::Server("the server gave no completion time".into()))?;
        view.completes_at = Some(completes_at);
        if let Err(e) = save_recovery(&app, Some(&view)) {
            tracing::warn!("the recovery will not survive a restart: {e}");
        }
        Ok(view)
    })
    .await?;
    let completes_at = view.completes_at.unwrap_or_default();
    state.set_recovering(Some(Recovering { app: r.app, view }));
    Ok(RecoveryConfirmed { completes_at })
}

#[derive(Debug, Clone, Serialize)]
pub struct RecoveryCompleted {
    /// The ID's new recovery secret (shown once; held until saved).
    pub recovery_secret: String,
}

/// Completes the recovery after its delay: this computer becomes the ID's
/// device, with a new recovery secret.
#[tauri::command]
pub async fn recover_complete(
    app: AppHandle,
    state: State<'_, AppState>,
) -> CmdResult<RecoveryCompleted> {
    let _one_at_a_time = state.identity_lock.lock().await;
    let r = recovering(&state)?;
    let (home, profile, keystore) = (
        state.env.home.clone(),
        state.env.profile.clone(),
        state.keystore.clone(),
    );
    let old = r.app.clone();
    let url = r.view.recovery.clone();
    let (identity, secret) = blocking_async(move || async move {
        let v = old.recovery_complete(&url).await?;
        let secret = v["secret"]
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| CommandError::Server("the server gave no new recovery secret".into()))?
            .to_string();
        if let Err(e) = save_recovery(&old, None) {
            tracing::warn!("clearing the finished recovery: {e}");
        }
        // The same profile, opened afresh as the working ID it now is.
        Ok((Authenticator::open(&home, &profile, keystore)?, secret))
    })
    .await?;
    state.set_recovering(None);
    install_new(
        &app,
        &state,
        identity,
        Some((&secret, SecretKind::Recovery)),
    )
    .await;
    Ok(RecoveryCompleted {
        recovery_secret: secret,
    })
}

/// Gives up the recovery on this computer (cancelled elsewhere, or
/// started by mistake): its key and profile go.
#[tauri::command]
pub async fn recover_abandon(state: State<'_, AppState>) -> CmdResult<()> {
    let _one_at_a_time = state.identity_lock.lock().await;
    let Some(r) = state.recovering() else {
        return Ok(());
    };
    let app = r.app.clone();
    blocking(move || Ok(app.forget()?)).await?;
    state.set_recovering(None);
    Ok(())
}

/// On a device of the ID: cancels a recovery someone started.
#[tauri::command]
pub async fn cancel_recovery(
    recovery: String,
    app: AppHandle,
    state: State<'_, AppState>,
) -> CmdResult<()> {
    let recovery = non_empty(&recovery, "the recovery")?;
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
mod tests {
    use super::*;
    use authentiq_authenticator::keystore::{KeyStore, KeyStoreError};
    use zeroize::Zeroizing;

    /// Opening a profile touches no key.
    #[derive(Debug)]
    struct NoKeys;

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
    fn home_with_profile() -> tempfile::TempDir {
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

    fn state_over(home: &std::path::Path) -> AppState {
        let env = crate::state::Env {
            home: home.to_path_buf(),
            profile: "default".into(),
            server: None,
        };
        AppState::new(env, Arc::new(NoKeys)).0
    }

    #[test]
    fn a_recovery_is_kept_in_the_profile_and_a_restart_resumes_it_aside() {
        let home = home_with_profile();
        let app = Authenticator::open(home.path(), "default", Arc::new(NoKeys)).unwrap();
        assert_eq!(saved_recovery(&app), None);
        let mut view = RecoveringView {
            recovery: "http://127.0.0.1:8080/recovery/r1".into(),
            completes_at: None,
            phone_needed: true,
        };
        save_recovery(&app, Some(&view)).unwrap();
        assert_eq!(saved_recovery(&app), Some(view.clone()));
        view.completes_at = Some(1_800_000_000);
        save_recovery(&app, Some(&view)).unwrap();
        assert_eq!(saved_recovery(&app), Some(view.clone()));

        // Started again: the profile is not the app's ID (no channel, no
        // home screen) but the recovery to resume.
        let state = state_over(home.path());
        assert!(state.open_existing().is_none());
        assert!(state.current().is_none());
        assert_eq!(state.recovering().map(|r| r.view), Some(view));
        assert!(matches!(
            no_link_or_recovery(&state),
            Err(CommandError::Invalid(_))
        ));

        // Completed: an ordinary ID again.
        save_recovery(&app, None).unwrap();
        assert_eq!(saved_recovery(&app), None);
        let state = state_over(home.path());
        assert!(state.open_existing().is_some());
        assert!(state.recovering().is_none());
    }

    #[test]
    fn one_link_at_a_time_and_cancelling_it_tells_it() {
        let home = tempfile::tempdir().unwrap();
        let state = state_over(home.path());
        let (tx, mut rx) = oneshot::channel();
        assert!(state.begin_link(tx));
        let (tx2, _rx2) = oneshot::channel();
        assert!(!state.begin_link(tx2), "one link at a time");
        assert!(state.is_linking());
        assert_eq!(state.linking(), None, "no number yet");
        let view = LinkingView {
            pairing: "http://127.0.0.1:8080/link/p1".into(),
            number: 42,
            qr_svg: "<svg/>".into(),
        };
        state.link_shown(view.clone());
        assert_eq!(state.linking(), Some(view));
        assert!(state.cancel_link());
        assert!(rx.try_recv().is_ok(), "the link hears it");
        assert!(!state.cancel_link(), "once");
        state.end_link();
        assert!(!state.is_linking());
        assert_eq!(state.linking(), None);
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

    #[test]
    fn a_refused_link_reads_as_such() {
        let e = link_error(AppError::Io(
            "the link was refused on the other device".into(),
        ));
        assert_eq!(e, CommandError::Server(REFUSED.into()));
        assert!(matches!(
            link_error(AppError::ProfileExists("pk".into())),
            CommandError::Invalid(m) if m.contains("pk")
        ));
    }
}
