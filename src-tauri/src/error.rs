//! The one error type every command returns, serialized for the front end
//! as `{kind, message}` so the UI can react to the kind and show the message.

use authentiq_authenticator::app::AppError;
use authentiq_authenticator::client::ClientError;
use authentiq_authenticator::identity::IdentityError;
use authentiq_authenticator::keystore::KeyStoreError;
use authentiq_authenticator::local::LocalError;
use serde::Serialize;

#[derive(Debug, thiserror::Error, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", content = "message", rename_all = "snake_case")]
pub enum CommandError {
    /// No Authentiq ID in this profile yet.
    #[error("{0}")]
    NoIdentity(String),
    /// No Secret Service, or the keyring is locked: the message says what to do.
    #[error("{0}")]
    Keyring(String),
    /// The server refused: the message is the server's own detail.
    #[error("{0}")]
    Server(String),
    #[error("{0}")]
    Network(String),
    #[error("{0}")]
    Expired(String),
    #[error("{0}")]
    NotFound(String),
    /// Bad input.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Internal(String),
}

pub type CmdResult<T> = Result<T, CommandError>;

impl CommandError {
    /// The kind alone (as serialized), for logs that must not carry the
    /// message (it may quote a session URI).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NoIdentity(_) => "no_identity",
            Self::Keyring(_) => "keyring",
            Self::Server(_) => "server",
            Self::Network(_) => "network",
            Self::Expired(_) => "expired",
            Self::NotFound(_) => "not_found",
            Self::Invalid(_) => "invalid",
            Self::Internal(_) => "internal",
        }
    }
}

impl From<KeyStoreError> for CommandError {
    fn from(e: KeyStoreError) -> Self {
        CommandError::Keyring(e.to_string())
    }
}

impl From<ClientError> for CommandError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Network { .. } => CommandError::Network(e.to_string()),
            ClientError::Refused { title, detail, .. } => {
                CommandError::Server(if detail.is_empty() { title } else { detail })
            }
            ClientError::Protocol(_) => CommandError::Server(e.to_string()),
            ClientError::BadServerUrl(_) => CommandError::Invalid(e.to_string()),
        }
    }
}

impl From<IdentityError> for CommandError {
    fn from(e: IdentityError) -> Self {
        CommandError::Internal(e.to_string())
    }
}

impl From<LocalError> for CommandError {
    fn from(e: LocalError) -> Self {
        CommandError::Internal(e.to_string())
    }
}

impl From<tauri::Error> for CommandError {
    fn from(e: tauri::Error) -> Self {
        CommandError::Internal(e.to_string())
    }
}

impl From<AppError> for CommandError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::KeyStore(e) => e.into(),
            AppError::Server(e) => e.into(),
            AppError::Local(e) => e.into(),
            AppError::Identity(e) => e.into(),
            // The authenticator's own texts for these point at the `aq` CLI.
            AppError::NoProfile => CommandError::NoIdentity(
                "There is no Authentiq ID here yet: create one first.".into(),
            ),
            AppError::ProfileExists(pk) => {
                CommandError::Invalid(format!("This profile already has an Authentiq ID ({pk})."))
            }
            AppError::KeyMissing => CommandError::Keyring(e.to_string()),
            AppError::UnknownRequest(id) => CommandError::NotFound(format!(
                "Sign-in request {id} is not pending any more (answered, or never received)."
            )),
            AppError::Expired(id) => {
                CommandError::Expired(format!("Sign-in request {id} has expired."))
            }
            AppError::NotACandidate(..) => CommandError::Invalid(e.to_string()),
            // The UI offers no number for a backchannel request and always
            // one for the others: these say it sent the wrong thing.
            AppError::NumberRequired(id, _) => CommandError::Invalid(format!(
                "Sign-in request {id} needs the number shown on the sign-in page: pick it first."
            )),
            AppError::NoNumberToMatch(id, client) => CommandError::Invalid(format!(
                "Sign-in request {id} has no number to match ({client} started it without a \
                 sign-in page): approve it without one."
            )),
            AppError::Untrusted(_) => CommandError::Server(e.to_string()),
            AppError::Io(_) => CommandError::Internal(e.to_string()),
        }
    }
}

/// For commands on a sign-in session: the server answers 404 for a
/// session that expired (or never existed), which the UI shows as expired.
pub fn session_error(e: AppError) -> CommandError {
    match e {
        AppError::Server(ClientError::Refused { status: 404, .. }) => CommandError::Expired(
            "This sign-in has expired or no longer exists: start it again on the website.".into(),
        ),
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(status: u16, detail: &str) -> AppError {
        AppError::Server(ClientError::Refused {
            status,
            kind: "wrong-number".into(),
            title: "Wrong number".into(),
            detail: detail.into(),
        })
    }

    #[test]
    fn serializes_as_kind_and_message() {
        let json = serde_json::to_value(CommandError::NoIdentity("none".into())).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "no_identity", "message": "none"})
        );
        let json = serde_json::to_value(CommandError::NotFound("x".into())).unwrap();
        assert_eq!(json["kind"], "not_found");
    }

    #[test]
    fn server_refusals_carry_the_servers_detail() {
        let e: CommandError = refused(403, "the number does not match").into();
        assert_eq!(e, CommandError::Server("the number does not match".into()));
        let e: CommandError = refused(403, "").into();
        assert_eq!(e, CommandError::Server("Wrong number".into()));
    }

    #[test]
    fn kind_is_the_serialized_kind() {
        for e in [
            CommandError::NoIdentity("m".into()),
            CommandError::Keyring("m".into()),
            CommandError::Server("m".into()),
            CommandError::Network("m".into()),
            CommandError::Expired("m".into()),
            CommandError::NotFound("m".into()),
            CommandError::Invalid("m".into()),
            CommandError::Internal("m".into()),
        ] {
            assert_eq!(serde_json::to_value(&e).unwrap()["kind"], e.kind());
        }
    }

    #[test]
    fn app_errors_map_to_contract_kinds() {
        let kind =
            |e: AppError| serde_json::to_value(CommandError::from(e)).unwrap()["kind"].clone();
        assert_eq!(kind(AppError::NoProfile), "no_identity");
        assert_eq!(kind(AppError::KeyMissing), "keyring");
        assert_eq!(
            kind(AppError::KeyStore(KeyStoreError::Locked("locked".into()))),
            "keyring"
        );
        assert_eq!(kind(AppError::Expired("a".into())), "expired");
        assert_eq!(kind(AppError::UnknownRequest("a".into())), "not_found");
        assert_eq!(
            kind(AppError::NotACandidate(3, "1, 2, 4".into())),
            "invalid"
        );
        assert_eq!(
            kind(AppError::Server(ClientError::Network {
                url: "http://x".into(),
                reason: "refused".into()
            })),
            "network"
        );
        assert_eq!(kind(AppError::Io("disk".into())), "internal");
        assert_eq!(
            kind(AppError::NumberRequired("a".into(), "1, 2, 3".into())),
            "invalid"
        );
        assert_eq!(
            kind(AppError::NoNumberToMatch("a".into(), "Shop".into())),
            "invalid"
        );
    }

    #[test]
    fn a_missing_session_is_expired() {
        assert!(matches!(
            session_error(refused(404, "no such sign-in session, or it expired")),
            CommandError::Expired(_)
        ));
        assert!(matches!(
            session_error(refused(403, "x")),
            CommandError::Server(_)
        ));
    }
}
