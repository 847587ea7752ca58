//! Several devices per Authentiq ID: the bodies of the tokens that link a
//! device, manage the devices of an ID and recover an ID whose devices
//! are all lost, and the events the server pushes about them.
//!
//! A device other than the identity's first signs with its own key in
//! `kid` and the identity in `sub` ([`crate::jwt::sign_device`]).

use serde::{Deserialize, Serialize};

use crate::payloads::{Decision, Requester};

/// `POST /link`: self-signed by the *new* device's key, asking to be
/// linked to the identity `id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkStart {
    /// The identity (its ID) to link to.
    pub id: String,
    /// What to call the new device ("Work laptop").
    pub name: String,
}

/// `POST /link/{pairing}`: an existing device's answer, `aud` = the
/// pairing's URL. An approval carries the number the new device shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkAnswer {
    pub decision: Decision,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<u16>,
}

/// `POST /key/{PK}/devices/list`: list the identity's devices.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceList {}

/// `PUT` (rename, with `name`) or `DELETE` (remove, without)
/// `/key/{PK}/devices/{DPK}`, `aud` = that URL.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `POST /recovery`: self-signed by the new device's key, with the
/// recovery secret in `Authorization: Bearer`; the email (and phone, when
/// bound) the identity verified, where the codes go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryStart {
    pub id: String,
    pub name: String,
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// `POST /recovery/{id}/confirm`: self-signed by the new device's key,
/// `aud` = that URL: the codes sent to the email (and phone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryConfirm {
    pub email_code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_code: Option<String>,
}

/// `POST /recovery/{id}/cancel` (by a device of the identity) and
/// `POST /recovery/{id}/complete` (by the new device), `aud` = that URL.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryAction {}

/// Pushed to the identity's devices: a new device asks to be linked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkRequestEvent {
    /// The pairing's URL; the answer is posted there and names it in `aud`.
    pub pairing: String,
    /// The new device's key.
    pub device: String,
    pub name: String,
    pub requester: Requester,
    /// Three candidates; the new device shows one of them.
    pub numbers: [u16; 3],
}

/// Pushed to the identity's devices: a device was removed (a channel of
/// that device ends with this event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRemoved {
    pub device: String,
}

/// Pushed to the identity's devices: someone started recovering the ID on
/// a new device; any device may cancel before `completes_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryStarted {
    /// The recovery's URL (cancel at `<recovery>/cancel`).
    pub recovery: String,
    pub device: String,
    pub name: String,
    pub requester: Requester,
    pub completes_at: i64,
}

/// Pushed to the identity's devices: a request they were shown (a sign-in,
/// a link, a recovery) was answered or ended elsewhere; the app closes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Withdrawn {
    /// The request's URL: the sign-in session, the pairing, the recovery.
    pub request: String,
    /// `approved`, `denied`, `cancelled`, `completed`, …
    pub outcome: String,
}

/// One device of an identity, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    pub device: String,
    pub name: String,
    pub added_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<i64>,
}
