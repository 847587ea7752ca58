//! The Authentiq ID: create it, verify an email or phone, show it as a QR
//! code, revoke it.

use authentiq_authenticator::Authenticator;
use authentiq_protocol::payloads::ClaimScope;
use serde::Serialize;
use tauri::{AppHandle, State};

use crate::error::{CmdResult, CommandError};
use crate::settings::{self, normalize_server};
use crate::state::{AppState, blocking, blocking_async, lock};
use crate::views::Grant;

#[derive(Debug, Serialize)]
pub struct NewIdentity {
    pub pk: String,
    /// Shown once; the app does not keep it.
    pub revocation_secret: String,
}

#[tauri::command]
pub async fn create_identity(
    server: String,
    app: AppHandle,
    state: State<'_, AppState>,
) -> CmdResult<NewIdentity> {
    let server = normalize_server(&server)?;
    let _one_at_a_time = state.identity_lock.lock().await;
    if let Some((_, identity)) = state.current() {
        return Err(CommandError::Invalid(format!(
            "This profile already has an Authentiq ID ({}).",
            identity.profile().pk
        )));
    }
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
    crate::service::start_channel(&app, generation, identity);
    state.refresh();
    Ok(NewIdentity {
        pk,
        revocation_secret: secret,
    })
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

fn non_empty(value: &str, what: &str) -> CmdResult<String> {
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

fn qr_svg(text: &str) -> CmdResult<String> {
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
    blocking_async(move || async move { Ok(identity.revoke(&secret).await?) }).await?;
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
