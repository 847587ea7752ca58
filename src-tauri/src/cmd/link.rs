//! Linking this computer to an existing Authentiq ID: the number and
//! pairing QR shown here until a device of the ID approves.

use std::sync::{Arc, Mutex};

use authentiq_authenticator::Authenticator;
use authentiq_authenticator::app::AppError;
use authentiq_authenticator::devices::LinkStarted;
use serde::Serialize;
use tauri::{AppHandle, Manager, State};
use tokio::sync::oneshot;

use super::devices::{RECOVERING, no_identity_here};
use super::identity::{install_new, non_empty, qr_svg};
use crate::device_views::LinkingView;
use crate::error::{CmdResult, CommandError};
use crate::events;
use crate::settings::normalize_server;
use crate::state::{AppState, blocking_async, lock};

/// What the authenticator says when the other device refused (or the
/// pairing ended).
const REFUSED: &str = "The link was refused on your other device, or it expired before anyone \
                       approved it.";

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
    // Checked again under the lock: a create or a recovery may have got
    // there first.
    let free = no_identity_here(&state).and_then(|()| match state.recovering() {
        Some(_) => Err(CommandError::Invalid(RECOVERING.into())),
        None => Ok(()),
    });
    if let Err(e) = free {
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
            // The link first: approved at the moment of a cancel, it is linked.
            biased;
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

#[cfg(test)]
mod tests {
    use super::super::devices::tests::state_over;
    use super::*;

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
