//! The Authentiq ID: create it, verify an email or phone, show it as a QR
//! code, revoke it.

use authentiq_authenticator::Authenticator;
use authentiq_authenticator::app::AppError;
use authentiq_protocol::payloads::ClaimScope;
use serde::Serialize;
use tauri::{AppHandle, State};

use crate::error::{CmdResult, CommandError};
use crate::settings::{self, normalize_server};
use crate::state::{AppState, SecretKind, blocking, blocking_async, lock};
use crate::views::Grant;

#[derive(Debug, Serialize)]
pub struct NewIdentity {
    pub pk: String,
    /// Shown once; the app keeps it (in memory only) until the user says it
    /// is saved ([`secret_saved`]).
    pub revocation_secret: String,
}

#[tauri::command]
pub async fn create_identity(
    server: String,
    app: AppHandle,
    state: State<'_, AppState>,
) -> CmdResult<NewIdentity> {
    let server = normalize_server(&server)?;
    // Said at once (a link holds the lock while it waits).
    crate::cmd::devices::no_link_or_recovery(&state)?;
    let _one_at_a_time = state.identity_lock.lock().await;
    if let Some((_, identity)) = state.current() {
        return Err(CommandError::Invalid(format!(
            "This profile already has an Authentiq ID ({}).",
            identity.profile().pk
        )));
    }
    crate::cmd::devices::no_link_or_recovery(&state)?;
    let (home, profile, keystore) = (
        state.env.home.clone(),
        state.env.profile.clone(),
        state.keystore.clone(),
    );
    let (identity, secret) = blocking_async(move || async move {
        Ok(Authenticator::init(&home, &profile, &server, keystore).await?)
    })
    .await?;
    let pk = identity.profile().pk.clone();
    install_new(
        &app,
        &state,
        identity,
        Some((&secret, SecretKind::Revocation)),
    )
    .await;
    Ok(NewIdentity {
        pk,
        revocation_secret: secret,
    })
}

/// Makes a new identity of this profile (created, linked or recovered
/// here) the app's: its server saved as the one to offer, installed, its
/// channel started; `secret` (to show once) is held until the user says it
/// is saved.
pub(crate) async fn install_new(
    app: &AppHandle,
    state: &AppState,
    identity: Authenticator,
    secret: Option<(&str, SecretKind)>,
) {
    let saved = {
        let mut s = lock(&state.settings);
        s.server = identity.profile().server.clone();
        s.clone()
    };
    let file = settings::path(&state.env.home);
    if let Err(e) = blocking(move || saved.save(&file)).await {
        tracing::warn!("{e}");
    }
    let (generation, identity) = state.install(identity);
    // Before anything else can fail or the window go: the onboarding can
    // show it again until the user says it is saved.
    if let Some((secret, kind)) = secret {
        state.hold_secret(secret, kind);
    }
    crate::service::start_channel(app, generation, identity);
    state.refresh();
}

/// The revocation secret of the new ID, while the user has not confirmed
/// saving it (the onboarding shows it again after the window was closed).
#[tauri::command]
pub fn unsaved_secret(state: State<'_, AppState>) -> Option<String> {
    state.unsaved_secret()
}

/// The user saved the revocation secret: the app forgets it.
#[tauri::command]
pub fn secret_saved(state: State<'_, AppState>) {
    state.secret_saved();
}

fn claim_scope(scope: &str) -> CmdResult<ClaimScope> {
    match scope {
        "email" => Ok(ClaimScope::Email),
        "phone" => Ok(ClaimScope::Phone),
        other => Err(CommandError::Invalid(format!(
            "Only an email address or a phone number can be verified, not {other:?}."
        ))),
    }
}

pub(crate) fn non_empty(value: &str, what: &str) -> CmdResult<String> {
    Some(value.trim().to_string())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| CommandError::Invalid(format!("Enter {what}.")))
}

/// Sends a code to the email address or phone number.
#[tauri::command]
pub async fn verify_start(
    scope: String,
    value: String,
    state: State<'_, AppState>,
) -> CmdResult<()> {
    let scope = claim_scope(&scope)?;
    let value = non_empty(&value, "an email address or phone number")?;
    let identity = state.authenticator()?;
    blocking_async(move || async move {
        identity.verify_start(scope, &value, false).await?;
        Ok(())
    })
    .await
}

/// Confirms with the code; returns the verified claim.
#[tauri::command]
pub async fn verify_finish(
    scope: String,
    value: String,
    code: String,
    state: State<'_, AppState>,
) -> CmdResult<Grant> {
    let scope = claim_scope(&scope)?;
    let value = non_empty(&value, "an email address or phone number")?;
    let code = non_empty(&code, "the code")?;
    let identity = state.authenticator()?;
    let grant = blocking_async(move || async move {
        let job = identity.pending_job(scope, &value)?.ok_or_else(|| {
            CommandError::Invalid(format!(
                "No code was sent to {value} from this app: ask for one first."
            ))
        })?;
        Ok(identity.verify_finish(scope, &job, &code).await?)
    })
    .await?;
    // Pending requests may now be able to share it.
    state.refresh();
    Ok(Grant::from(&grant))
}

/// The Authentiq ID as an SVG QR code.
#[tauri::command]
pub async fn id_qr_svg(state: State<'_, AppState>) -> CmdResult<String> {
    qr_svg(&state.authenticator()?.profile().pk)
}

/// `text` as an SVG QR code (the ID, a pairing URL).
pub(crate) fn qr_svg(text: &str) -> CmdResult<String> {
    let code = qrcode::QrCode::new(text.as_bytes())
        .map_err(|e| CommandError::Internal(format!("cannot make the QR code: {e}")))?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}

/// Revokes the ID with its revocation secret; the key leaves the keyring.
#[tauri::command]
pub async fn revoke(secret: String, state: State<'_, AppState>) -> CmdResult<()> {
    let secret = non_empty(&secret, "the revocation secret")?;
    let _one_at_a_time = state.identity_lock.lock().await;
    let identity = state.authenticator()?;
    blocking_async(move || async move {
        match identity.revoke(&secret).await {
            Ok(()) => Ok(()),
            // Revoked before (elsewhere, or a retry after a half-done one):
            // finish here.
            Err(AppError::Server(e)) if e.kind() == Some("revoked-key") => {
                if let Err(e) = identity.forget() {
                    tracing::warn!("the ID was already revoked; clearing it here: {e}");
                }
                Ok(())
            }
            Err(AppError::Server(e)) => Err(AppError::Server(e).into()),
            // The server revoked it; only the local clean-up failed (e.g. a
            // keyring prompt dismissed). The ID is gone either way.
            Err(e) => {
                tracing::warn!("the ID is revoked; clearing it here failed: {e}");
                Ok(())
            }
        }
    })
    .await?;
    state.clear();
    state.refresh();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qr_code_is_svg_markup() {
        let svg = qr_svg("0Ya4FtGAeIIdFv9hIHDzqJOTGAO4vVdnM9PyTj3Fbsk").unwrap();
        assert!(
            svg.contains("<svg") && svg.trim_end().ends_with("</svg>"),
            "{svg}"
        );
        assert!(!svg.contains("<script"));
    }

    #[test]
    fn only_email_and_phone_are_verified() {
        assert_eq!(claim_scope("email").unwrap(), ClaimScope::Email);
        assert_eq!(claim_scope("phone").unwrap(), ClaimScope::Phone);
        assert!(matches!(
            claim_scope("aq:name"),
            Err(CommandError::Invalid(_))
        ));
        assert!(matches!(
            non_empty("  ", "x"),
            Err(CommandError::Invalid(_))
        ));
        assert_eq!(non_empty(" 123456 ", "x").unwrap(), "123456");
    }
}
