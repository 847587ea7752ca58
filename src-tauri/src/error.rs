//! The one error type every command returns, serialized for the front end
//! as `{kind, message}` so the UI can react to the kind and show the message.

use serde::Serialize;

#[derive(Debug, thiserror::Error, Serialize)]
#[serde(tag = "kind", content = "message", rename_all = "snake_case")]
pub enum CommandError {
    #[error("{0}")]
    Identity(String),
}

impl From<authentiq_authenticator::identity::IdentityError> for CommandError {
    fn from(e: authentiq_authenticator::identity::IdentityError) -> Self {
        CommandError::Identity(e.to_string())
    }
}
