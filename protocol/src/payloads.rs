//! The bodies of the JWTs Authentiq exchanges. Registered claims (`iss`,
//! `sub`, `aud`, `exp`, `nbf`, `iat`, `jti`) live in
//! [`crate::jwt::Registered`]; these types hold the rest, so a full token
//! payload is `Claims<Registration>`, `Claims<SignInResponse>`, …

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `POST /key`: self-signed `{sub, devtoken}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    /// Device token for push messages (mobile apps; desktop apps use the
    /// device channel and leave it out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devtoken: Option<String>,
}

/// `PUT /key/{PK}`: self-signed `{sub, email, phone}`; the server keeps
/// only keyed hashes of the values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// `POST /key/{PK}`: self-signed `{sub, grants}` presenting issuer-signed
/// grants to record and bind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyUpdate {
    #[serde(default)]
    pub grants: Vec<String>,
}

/// The two claims the issuer can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClaimScope {
    Email,
    Phone,
}

/// `POST /scope`: self-signed `{sub, scope, email | phone_number, type?}`.
/// Older clients sent `phone`; it is read as `phone_number`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimRequest {
    pub scope: ClaimScope,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, alias = "phone", skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// Delivery hint, e.g. `"sms"` or `"call"` for phones.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

impl ClaimRequest {
    /// The address or number the scope asks to verify, if the matching field is there.
    pub fn subject_value(&self) -> Option<&str> {
        match self.scope {
            ClaimScope::Email => self.email.as_deref(),
            ClaimScope::Phone => self.phone_number.as_deref(),
        }
    }

    /// Exactly the field matching `scope` must be present.
    pub fn validate(&self) -> Result<&str, &'static str> {
        match self.scope {
            ClaimScope::Email if self.phone_number.is_some() => {
                Err("an email claim request must not carry phone_number")
            }
            ClaimScope::Phone if self.email.is_some() => {
                Err("a phone claim request must not carry email")
            }
            ClaimScope::Email => self.email.as_deref().ok_or("scope email needs an email"),
            ClaimScope::Phone => self
                .phone_number
                .as_deref()
                .ok_or("scope phone needs a phone_number"),
        }
    }
}

impl ClaimScope {
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimScope::Email => "email",
            ClaimScope::Phone => "phone",
        }
    }
}

/// Issuer-signed grant `{iss, sub:PK, scope, email | phone_number, iat, exp}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeGrant {
    pub scope: ClaimScope,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
}

/// Self-signed `{sub, iss, aud, exp, iat, nbf}`: every field is registered,
/// so the body is empty. `aud` names where a push may be requested from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushToken {}

/// Short-lived self-signed `{sub, aud:<server>, exp}` opening the device channel.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelAuth {}

/// Self-signed `{sub, jti}` posted to `/key/{PK}/signout`: sign this ID out
/// everywhere (every SSO session and every token of every client).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignOut {}

/// The relying party a sign-in is for, as the app shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientInfo {
    pub client_id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
}

/// Where the sign-in was started, so the user can tell if it was them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requester {
    pub ip: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

/// Server-signed request pushed to the device: `aud` is the device's PK,
/// `iat` the time of the request, `exp` its expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInRequest {
    /// The sign-in session URI; the response is posted there and names it in `aud`.
    pub session: String,
    pub nonce: String,
    pub client: ClientInfo,
    /// Requested scopes, with modifiers (see [`crate::scope`]).
    pub scope: String,
    pub requester: Requester,
    /// Three candidates; the sign-in page shows one of them.
    pub numbers: [u16; 3],
    /// What the answer is for (a sign-in unless said otherwise).
    #[serde(default, skip_serializing_if = "Purpose::is_sign_in")]
    pub purpose: Purpose,
    /// Started by the client's backend with no browser to show a number
    /// (CIBA): the app asks "was this you?" without number matching, and
    /// the answer carries no number.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub backchannel: bool,
    /// With `backchannel`: the client's short message, if it sent one,
    /// which the user checks against what the client showed them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding_message: Option<String>,
}

/// What a request pushed to the device is for: the app words it so.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Purpose {
    /// Sign in to the client ("Sign in to X").
    #[default]
    SignIn,
    /// Share verified details with the client ("Verify your details for X"),
    /// started by the client's backend with an SDK token.
    Verification,
    /// Confirm to a client that already knows the user that it is them
    /// ("Confirm it's you for X").
    Reauthentication,
}

impl Purpose {
    pub fn is_sign_in(&self) -> bool {
        *self == Purpose::SignIn
    }
}

/// A claim-verification job changed state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeJobUpdate {
    pub job: String,
    /// `confirmed` or `signed`.
    pub status: String,
}

/// What the server pushes on a device channel, signed by the issuer key
/// with header `typ` [`DeviceEvent::TYP`], `aud` = the device's PK.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum DeviceEvent {
    SignIn(SignInRequest),
    ScopeJob(ScopeJobUpdate),
    KeyRevoked {},
    LinkRequest(crate::devices::LinkRequestEvent),
    DeviceRemoved(crate::devices::DeviceRemoved),
    RecoveryStarted(crate::devices::RecoveryStarted),
    Withdrawn(crate::devices::Withdrawn),
}

impl DeviceEvent {
    /// The header `typ` of event tokens, so no other token passes for one.
    pub const TYP: &'static str = "aq-event+jwt";

    /// The SSE event name.
    pub fn name(&self) -> &'static str {
        match self {
            DeviceEvent::SignIn(_) => "sign-in",
            DeviceEvent::ScopeJob(_) => "scope-job",
            DeviceEvent::KeyRevoked {} => "key-revoked",
            DeviceEvent::LinkRequest(_) => "link-request",
            DeviceEvent::DeviceRemoved(_) => "device-removed",
            DeviceEvent::RecoveryStarted(_) => "recovery-started",
            DeviceEvent::Withdrawn(_) => "withdrawn",
        }
    }
}

/// The user's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Approve,
    Deny,
}

/// Self-signed `{sub, aud:<session uri>, nonce, number, scope, claims, push_token?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignInResponse {
    pub decision: Decision,
    pub nonce: String,
    /// The number the user picked; absent on a denial.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<u16>,
    /// The scopes the user agreed to share.
    #[serde(default)]
    pub scope: String,
    /// Claim values by OIDC name (`email`, `phone_number`, `name`, …).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub claims: Map<String, Value>,
    /// Issuer-signed grants backing the `~s` claims.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<String>,
    /// A push token for "remember this browser" (`aq:push`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_token: Option<String>,
    /// With a denial: "this wasn't me".
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub report: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::{self, Claims, Validation};
    use ed25519_dalek::SigningKey;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;

    fn payload_of(token: &str) -> Value {
        let p = token.split('.').nth(1).unwrap();
        serde_json::from_slice(&crate::b64::decode(p).unwrap()).unwrap()
    }

    #[test]
    fn registration_has_sub_and_devtoken() {
        let k = SigningKey::from_bytes(&[1; 32]);
        let body = Registration {
            devtoken: Some("dt".into()),
        };
        let t = jwt::sign_self(Claims::new(body.clone()).valid_for(NOW, 60), &k).unwrap();
        let p = payload_of(&t);
        assert_eq!(p["devtoken"], "dt");
        assert_eq!(p["sub"], p["iss"]);
        let (_, c) = jwt::verify_self_signed::<Registration>(&t, &Validation::at(NOW)).unwrap();
        assert_eq!(c.body, body);
    }

    #[test]
    fn claim_request_uses_phone_number_and_reads_phone() {
        let req = ClaimRequest {
            scope: ClaimScope::Phone,
            email: None,
            phone_number: Some("+31612345678".into()),
            kind: Some("sms".into()),
        };
        let v = serde_json::to_value(Claims::new(req.clone()).subject("pk")).unwrap();
        assert_eq!(
            v,
            json!({"sub":"pk","scope":"phone","phone_number":"+31612345678","type":"sms"})
        );
        let old: Claims<ClaimRequest> = serde_json::from_value(
            json!({"sub":"pk","scope":"phone","phone":"+31612345678","type":"sms"}),
        )
        .unwrap();
        assert_eq!(old.body, req);
        assert_eq!(old.body.subject_value(), Some("+31612345678"));
        let bad =
            serde_json::from_value::<Claims<ClaimRequest>>(json!({"sub":"pk","scope":"address"}));
        assert!(bad.is_err());
    }

    #[test]
    fn sign_in_round_trip() {
        let k = SigningKey::from_bytes(&[5; 32]);
        let req = SignInRequest {
            purpose: Purpose::default(),
            backchannel: false,
            binding_message: None,
            session: "https://id.example/sign-in/abc".into(),
            nonce: "n-1".into(),
            client: ClientInfo {
                client_id: "demo".into(),
                name: "Demo".into(),
                uri: Some("https://rp.example".into()),
                logo_uri: None,
            },
            scope: "openid email~rs".into(),
            requester: Requester {
                ip: "192.0.2.1".into(),
                user_agent: Some("Firefox".into()),
            },
            numbers: [12, 47, 83],
        };
        let t = jwt::sign(&Claims::new(req.clone()).valid_for(NOW, 300), &k, "srv").unwrap();
        let got: Claims<SignInRequest> =
            jwt::verify(&t, &k.verifying_key(), Some("srv"), &Validation::at(NOW)).unwrap();
        assert_eq!(got.body, req);

        let mut claims = Map::new();
        claims.insert("email".into(), json!("a@example.com"));
        let resp = SignInResponse {
            decision: Decision::Approve,
            nonce: "n-1".into(),
            number: Some(47),
            scope: "openid email".into(),
            claims,
            grants: vec!["grant.jwt.here".into()],
            push_token: None,
            report: false,
        };
        let c = Claims::new(resp.clone())
            .audience(req.session.clone())
            .valid_for(NOW, 60);
        let t = jwt::sign_self(c, &k).unwrap();
        let p = payload_of(&t);
        assert_eq!(p["aud"], "https://id.example/sign-in/abc");
        assert!(p.get("report").is_none() && p.get("push_token").is_none());
        let v = Validation::at(NOW).audience(req.session);
        let (_, got) = jwt::verify_self_signed::<SignInResponse>(&t, &v).unwrap();
        assert_eq!(got.body, resp);
    }

    #[test]
    fn push_token_and_channel_auth_are_registered_claims_only() {
        let k = SigningKey::from_bytes(&[9; 32]);
        let t = jwt::sign_self(
            Claims::new(PushToken {})
                .audience("https://rp.example/")
                .valid_for(NOW, 3600),
            &k,
        )
        .unwrap();
        let p = payload_of(&t);
        let mut keys: Vec<_> = p.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["aud", "exp", "iat", "iss", "jti", "nbf", "sub"]);
        // Which kind of token this is follows from its audience: a push
        // token for an RP is refused where the channel's audience is required.
        let channel = Validation::at(NOW).audience("https://id.example/channel");
        assert_eq!(
            jwt::verify_self_signed::<ChannelAuth>(&t, &channel).unwrap_err(),
            crate::JwsError::AudienceMismatch("https://id.example/channel".into())
        );
    }

    #[test]
    fn claim_request_validation() {
        let mut r = ClaimRequest {
            scope: ClaimScope::Email,
            email: Some("a@b.c".into()),
            phone_number: None,
            kind: None,
        };
        assert_eq!(r.validate(), Ok("a@b.c"));
        r.phone_number = Some("+3161234567".into());
        assert!(r.validate().is_err());
        r.email = None;
        assert!(r.validate().is_err());
        r.scope = ClaimScope::Phone;
        assert_eq!(r.validate(), Ok("+3161234567"));
    }

    #[test]
    fn device_events_are_typed_and_tagged() {
        let k = SigningKey::from_bytes(&[3; 32]);
        let ev = DeviceEvent::ScopeJob(ScopeJobUpdate {
            job: "j".repeat(20),
            status: "signed".into(),
        });
        let claims = Claims::new(ev.clone()).audience("pk").valid_for(NOW, 60);
        let t = jwt::sign_typed(&claims, &k, "srv", DeviceEvent::TYP).unwrap();
        assert_eq!(payload_of(&t)["event"], "scope-job");
        let v = Validation::at(NOW).typ(DeviceEvent::TYP).audience("pk");
        let got: Claims<DeviceEvent> =
            jwt::verify(&t, &k.verifying_key(), Some("srv"), &v).unwrap();
        assert_eq!(got.body, ev);
        let revoked = Claims::new(DeviceEvent::KeyRevoked {}).valid_for(NOW, 60);
        let t = jwt::sign_typed(&revoked, &k, "srv", DeviceEvent::TYP).unwrap();
        let got: Claims<DeviceEvent> = jwt::verify(
            &t,
            &k.verifying_key(),
            None,
            &Validation::at(NOW).typ(DeviceEvent::TYP),
        )
        .unwrap();
        assert_eq!(got.body.name(), "key-revoked");
        // An event never passes as a scope grant.
        assert!(
            jwt::verify::<ScopeGrant>(&t, &k.verifying_key(), None, &Validation::at(NOW)).is_err()
        );
    }
}
