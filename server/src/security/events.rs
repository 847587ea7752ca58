//! The security event log: written when something that matters to security
//! happens, read back by the push gate (reports, wrong numbers) and by
//! administrators.

use crate::store::SecurityEvent;
use crate::{ApiError, AppState};

/// Declares [`Kind`] with each kind's name in the log and its label for
/// people, in one place (the dashboard's filter and labels read them).
macro_rules! kinds {
    ($($(#[$doc:meta])* $kind:ident => $name:literal, $label:literal;)*) => {
        /// What happened.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Kind {
            $($(#[$doc])* $kind,)*
        }

        impl Kind {
            /// Every kind, in the order the dashboard offers them.
            pub const ALL: &'static [Kind] = &[$(Kind::$kind),*];

            /// The name stored in the log.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Kind::$kind => $name,)*
                }
            }

            /// What it means, for people.
            pub fn label(self) -> &'static str {
                match self {
                    $(Kind::$kind => $label,)*
                }
            }
        }
    };
}

kinds! {
    SignInApproved => "sign-in-approved", "Sign-in approved";
    SignInDenied => "sign-in-denied", "Sign-in denied";
    /// Denied with "this wasn't me": blocks pushes from that address.
    SignInReported => "sign-in-reported", "Sign-in denied and reported";
    /// The user picked another number than the page showed.
    WrongNumber => "wrong-number", "Wrong number picked (denied)";
    /// A sign-in session expired unanswered (logged by the store when it
    /// purges the session).
    SignInExpired => "sign-in-expired", "Sign-in expired unanswered";
    KeyRevoked => "key-revoked", "Key revoked";
    /// Too many wrong verification or revocation codes: the code is void.
    CodeLimitReached => "code-limit-reached", "Too many wrong codes";
    /// A spent authorization code or refresh token came back.
    TokenReused => "token-reused", "A spent code or token came back";
    /// An SSO session, or everything of a key, was signed out.
    SignedOut => "signed-out", "Signed out";
    /// A new device asked to be linked to an identity.
    LinkRequested => "link-requested", "A new device asked to be linked";
    /// An existing device approved it, with the right number.
    LinkApproved => "link-approved", "A new device was linked";
    /// Denied, a wrong number, or the new key turned out taken.
    LinkRefused => "link-refused", "Linking a device was refused";
    DeviceRenamed => "device-renamed", "Device renamed";
    DeviceRemoved => "device-removed", "Device removed";
    /// The recovery secret and the codes were given on a new device.
    RecoveryStarted => "recovery-started", "Recovery started";
    RecoveryCancelled => "recovery-cancelled", "Recovery cancelled";
    RecoveryCompleted => "recovery-completed", "Recovery completed";
    /// An admin rotated the signing keys from the dashboard.
    KeysRotated => "keys-rotated", "Signing keys rotated";
}

impl Kind {
    /// The kind stored as `name`, if it is one.
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|k| k.as_str() == name)
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
    let event = event(state, kind, &who, detail);
    trace(kind, &who);
    state
        .db
        .call(move |s| s.insert_security_event(&event))
        .await?;
    Ok(())
}

/// An event for the log, not stored yet: [`record`] stores one alone, and
/// [`crate::store::Write::SecurityEvent`] with the write it is about.
pub fn event(
    state: &AppState,
    kind: Kind,
    who: &Subject<'_>,
    detail: Option<String>,
) -> SecurityEvent {
    SecurityEvent {
        id: 0,
        at: state.now(),
        kind: kind.as_str().to_string(),
        pk: who.pk.map(str::to_string),
        client_id: who.client_id.map(str::to_string),
        ip: who.ip.map(str::to_string),
        detail,
    }
}

/// The server's log line of an event (without secrets).
pub fn trace(kind: Kind, who: &Subject<'_>) {
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
}
