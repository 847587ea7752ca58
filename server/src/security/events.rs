//! The security event log: written when something that matters to security
//! happens, read back by the push gate (reports, wrong numbers) and by
//! administrators.

use crate::store::SecurityEvent;
use crate::{ApiError, AppState};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    SignInApproved,
    SignInDenied,
    /// Denied with "this wasn't me": blocks pushes from that address.
    SignInReported,
    /// The user picked another number than the page showed.
    WrongNumber,
    /// A sign-in session expired unanswered (logged by the store when it
    /// purges the session).
    SignInExpired,
    KeyRevoked,
    /// Too many wrong verification or revocation codes: the code is void.
    CodeLimitReached,
    /// A spent authorization code or refresh token came back.
    TokenReused,
    /// An SSO session, or everything of a key, was signed out.
    SignedOut,
    /// A new device asked to be linked to an identity.
    LinkRequested,
    /// An existing device approved it, with the right number.
    LinkApproved,
    /// Denied, a wrong number, or the new key turned out taken.
    LinkRefused,
    DeviceRenamed,
    DeviceRemoved,
    /// The recovery secret and the codes were given on a new device.
    RecoveryStarted,
    RecoveryCancelled,
    RecoveryCompleted,
    /// An admin rotated the signing keys from the dashboard.
    KeysRotated,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::SignInApproved => "sign-in-approved",
            Kind::SignInDenied => "sign-in-denied",
            Kind::SignInReported => "sign-in-reported",
            Kind::WrongNumber => "wrong-number",
            Kind::SignInExpired => "sign-in-expired",
            Kind::KeyRevoked => "key-revoked",
            Kind::CodeLimitReached => "code-limit-reached",
            Kind::TokenReused => "token-reused",
            Kind::SignedOut => "signed-out",
            Kind::LinkRequested => "link-requested",
            Kind::LinkApproved => "link-approved",
            Kind::LinkRefused => "link-refused",
            Kind::DeviceRenamed => "device-renamed",
            Kind::DeviceRemoved => "device-removed",
            Kind::RecoveryStarted => "recovery-started",
            Kind::RecoveryCancelled => "recovery-cancelled",
            Kind::RecoveryCompleted => "recovery-completed",
            Kind::KeysRotated => "keys-rotated",
        }
    }
}

/// Who and where an event is about.
#[derive(Debug, Clone, Default)]
pub struct Subject<'a> {
    pub pk: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub ip: Option<&'a str>,
}

/// Appends an event to the log (and to the server's log, without secrets).
pub async fn record(
    state: &AppState,
    kind: Kind,
    who: Subject<'_>,
    detail: Option<String>,
) -> Result<(), ApiError> {
    let event = SecurityEvent {
        id: 0,
        at: state.now(),
        kind: kind.as_str().to_string(),
        pk: who.pk.map(str::to_string),
        client_id: who.client_id.map(str::to_string),
        ip: who.ip.map(str::to_string),
        detail,
    };
    match kind {
        Kind::SignInReported | Kind::TokenReused | Kind::CodeLimitReached | Kind::WrongNumber => {
            tracing::warn!(
                kind = kind.as_str(),
                pk = who.pk,
                client = who.client_id,
                ip = who.ip,
                "security event"
            );
        }
        _ => tracing::info!(
            kind = kind.as_str(),
            pk = who.pk,
            client = who.client_id,
            ip = who.ip,
            "security event"
        ),
    }
    state
        .db
        .call(move |s| s.insert_security_event(&event))
        .await?;
    Ok(())
}
