//! What the front end sees (the contract's types), built from the
//! authenticator's records. Pure functions, tested here.

use authentiq_authenticator::app::Profile;
use authentiq_authenticator::local::{Request, StoredGrant};
use authentiq_authenticator::purpose::Purpose;
use authentiq_protocol::scope::{Scope, ScopeName};
use serde::Serialize;

/// `Grant`: a verified email address or phone number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    pub scope: String,
    pub value: String,
    pub exp: i64,
}

impl From<&StoredGrant> for Grant {
    fn from(g: &StoredGrant) -> Self {
        Self {
            scope: g.scope.clone(),
            value: g.value.clone(),
            exp: g.exp,
        }
    }
}

/// `Profile`: the identity, its server and what it has verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProfileView {
    pub pk: String,
    pub server: String,
    pub verified: Vec<Grant>,
}

impl ProfileView {
    pub fn new(p: &Profile, grants: &[StoredGrant]) -> Self {
        Self {
            pk: p.pk.clone(),
            server: p.server.clone(),
            verified: grants.iter().map(Grant::from).collect(),
        }
    }
}

/// `Claim`: one thing the relying party asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Claim {
    /// The scope name, e.g. `email`, `aq:name`.
    pub name: String,
    pub label: String,
    /// `~r`: approving always shares it.
    pub required: bool,
    /// `~s`: it must be verified by the issuer.
    pub verified: bool,
    /// Whether the app can share it.
    pub available: bool,
    /// What would be shared, when the app holds a value.
    pub value: Option<String>,
}

/// `RequestView`: a pending sign-in request as the request screen shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestView {
    pub id: String,
    pub session: String,
    /// What it is for (`sign-in`, `verification`, `reauthentication`): the
    /// UI words the request by it.
    pub purpose: Purpose,
    /// Started by the client's backend (CIBA): no sign-in page shows a
    /// number, so the UI offers none to pick (approve sends `number: null`)
    /// and shows `binding_message` to check instead.
    pub backchannel: bool,
    /// With `backchannel`: the client's short message (plain text), if it
    /// sent one.
    pub binding_message: Option<String>,
    pub client_id: String,
    pub client_name: String,
    pub client_uri: Option<String>,
    pub scope: String,
    pub ip: String,
    pub user_agent: Option<String>,
    pub numbers: [u16; 3],
    pub received_at: i64,
    pub expires_at: i64,
    pub claims: Vec<Claim>,
    /// The site offers "remember this browser" (`aq:push`).
    pub wants_push: bool,
}

impl RequestView {
    pub fn new(r: &Request, grants: &[StoredGrant]) -> Self {
        let scope: Scope = r.scope.parse().unwrap_or_default();
        Self {
            id: r.id.clone(),
            session: r.session.clone(),
            purpose: r.purpose,
            backchannel: r.backchannel,
            binding_message: r.binding_message.clone(),
            client_id: r.client_id.clone(),
            client_name: r.client_name.clone(),
            client_uri: r.client_uri.clone(),
            scope: r.scope.clone(),
            ip: r.ip.clone(),
            user_agent: r.user_agent.clone(),
            numbers: r.numbers,
            received_at: r.received_at,
            expires_at: r.expires_at,
            claims: claims(&scope, grants),
            wants_push: scope.contains(&ScopeName::AqPush),
        }
    }

    /// The first required claim the app cannot share, if any: approving
    /// would be refused by the server.
    pub fn missing_required(&self) -> Option<&Claim> {
        self.claims
            .iter()
            .find(|c| c.required && !c.available && matches!(c.name.as_str(), "email" | "phone"))
    }
}

/// The claims a scope asks for, marked with what the stored grants can
/// back. `openid` (the sign-in itself) and `aq:push` (`wants_push`) are not
/// claims. Email and phone are shared from the issuer's grants (the first
/// one of each, as the authenticator does when approving); the app holds no
/// other personal data, so those scopes are listed but not available.
/// `offline_access` is a permission rather than data: always available.
pub fn claims(scope: &Scope, grants: &[StoredGrant]) -> Vec<Claim> {
    scope
        .items()
        .iter()
        .filter(|i| !matches!(i.name, ScopeName::OpenId | ScopeName::AqPush))
        .map(|item| {
            let grant_scope = match item.name {
                ScopeName::Email => Some("email"),
                ScopeName::Phone => Some("phone"),
                _ => None,
            };
            let value = grant_scope
                .and_then(|gs| grants.iter().find(|g| g.scope == gs))
                .map(|g| g.value.clone());
            let available = value.is_some() || item.name == ScopeName::OfflineAccess;
            Claim {
                name: item.name.to_string(),
                label: label(&item.name),
                required: item.required,
                verified: item.signed,
                available,
                value,
            }
        })
        .collect()
}

/// The same words the server's sign-in page uses.
fn label(name: &ScopeName) -> String {
    match name {
        ScopeName::Email => "Email address",
        ScopeName::Phone => "Phone number",
        ScopeName::Profile => "Profile (name, username, locale)",
        ScopeName::Address => "Address",
        ScopeName::AqName => "Name",
        ScopeName::AqLocation => "Location",
        ScopeName::AqUsername => "Username",
        ScopeName::AqLocale => "Language",
        ScopeName::AqZoneinfo => "Time zone",
        ScopeName::AqPush => "Remember this browser for one-tap sign-in",
        ScopeName::OfflineAccess => "Stay signed in (offline access)",
        ScopeName::OpenId => "Your Authentiq ID",
        ScopeName::Unknown(other) => other,
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(scope: &str, value: &str) -> StoredGrant {
        StoredGrant {
            scope: scope.into(),
            value: value.into(),
            jwt: "header.payload.signature".into(),
            exp: 2_000_000_000,
        }
    }

    fn request(scope: &str) -> Request {
        Request {
            id: "3fa2c1".into(),
            session: "http://127.0.0.1:8080/sign-in/abc".into(),
            purpose: Purpose::SignIn,
            backchannel: false,
            binding_message: None,
            event: "event.jwt.here".into(),
            client_id: "shop".into(),
            client_name: "My Shop".into(),
            client_uri: None,
            scope: scope.into(),
            ip: "203.0.113.7".into(),
            user_agent: Some("Firefox".into()),
            numbers: [12, 47, 83],
            nonce: "secret-nonce".into(),
            received_at: 1_800_000_000,
            expires_at: 1_800_000_120,
            state: "pending".into(),
        }
    }

    fn by_name<'a>(claims: &'a [Claim], name: &str) -> &'a Claim {
        claims.iter().find(|c| c.name == name).unwrap()
    }

    #[test]
    fn verified_email_is_available_with_its_value() {
        let scope: Scope = "openid email~rs phone aq:name aq:push".parse().unwrap();
        let claims = claims(&scope, &[grant("email", "me@example.com")]);
        let names: Vec<_> = claims.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            ["email", "phone", "aq:name"],
            "openid and aq:push are not claims"
        );
        let email = by_name(&claims, "email");
        assert!(email.required && email.verified && email.available);
        assert_eq!(email.value.as_deref(), Some("me@example.com"));
        assert_eq!(email.label, "Email address");
        let phone = by_name(&claims, "phone");
        assert!(!phone.required && !phone.verified && !phone.available);
        assert_eq!(phone.value, None);
        let name = by_name(&claims, "aq:name");
        assert!(!name.available && name.value.is_none());
        assert_eq!(name.label, "Name");
    }

    #[test]
    fn phone_grant_backs_the_phone_claim_only() {
        let scope: Scope = "openid email phone~s".parse().unwrap();
        let claims = claims(&scope, &[grant("phone", "+15551234567")]);
        assert!(!by_name(&claims, "email").available);
        let phone = by_name(&claims, "phone");
        assert!(phone.available && phone.verified);
        assert_eq!(phone.value.as_deref(), Some("+15551234567"));
    }

    #[test]
    fn offline_access_is_a_permission_and_unknown_scopes_keep_their_name() {
        let scope: Scope = "openid offline_access https://api.example/read~r"
            .parse()
            .unwrap();
        let claims = claims(&scope, &[]);
        let offline = by_name(&claims, "offline_access");
        assert!(offline.available && offline.value.is_none());
        let unknown = by_name(&claims, "https://api.example/read");
        assert_eq!(unknown.label, "https://api.example/read");
        assert!(unknown.required && !unknown.available);
    }

    #[test]
    fn request_view_flags_push_and_a_missing_required_grant() {
        let r = request("openid email~rs aq:push");
        let without = RequestView::new(&r, &[]);
        assert!(without.wants_push);
        assert_eq!(
            without.missing_required().map(|c| c.name.as_str()),
            Some("email")
        );
        let with = RequestView::new(&r, &[grant("email", "me@example.com")]);
        assert!(with.missing_required().is_none());
        assert!(!RequestView::new(&request("openid"), &[]).wants_push);
    }

    #[test]
    fn an_unparsable_scope_asks_for_nothing() {
        let v = RequestView::new(&request("openid email~x"), &[]);
        assert!(v.claims.is_empty());
        assert_eq!(v.scope, "openid email~x");
    }

    #[test]
    fn json_matches_the_contract() {
        let v = RequestView::new(
            &request("openid email~r"),
            &[grant("email", "me@example.com")],
        );
        let json = serde_json::to_value(&v).unwrap();
        let mut keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "backchannel",
                "binding_message",
                "claims",
                "client_id",
                "client_name",
                "client_uri",
                "expires_at",
                "id",
                "ip",
                "numbers",
                "purpose",
                "received_at",
                "scope",
                "session",
                "user_agent",
                "wants_push"
            ]
        );
        assert_eq!(json["numbers"], serde_json::json!([12, 47, 83]));
        assert_eq!(json["purpose"], "sign-in");
        let mut verification = request("openid email~rs");
        verification.purpose = Purpose::Verification;
        let other = serde_json::to_value(RequestView::new(&verification, &[])).unwrap();
        assert_eq!(other["purpose"], "verification");
        assert_eq!(json["backchannel"], false);
        assert_eq!(json["binding_message"], serde_json::Value::Null);
        let mut ciba = request("openid");
        ciba.backchannel = true;
        ciba.binding_message = Some("Order 1234".into());
        let ciba = serde_json::to_value(RequestView::new(&ciba, &[])).unwrap();
        assert_eq!(ciba["backchannel"], true);
        assert_eq!(ciba["binding_message"], "Order 1234");
        assert_eq!(json["client_uri"], serde_json::Value::Null);
        assert_eq!(
            json["claims"][0],
            serde_json::json!({
                "name": "email", "label": "Email address", "required": true,
                "verified": false, "available": true, "value": "me@example.com"
            })
        );
        assert!(
            !json.to_string().contains("secret-nonce"),
            "the nonce stays in Rust"
        );
        let g = serde_json::to_value(Grant::from(&grant("phone", "+1"))).unwrap();
        assert_eq!(
            g,
            serde_json::json!({"scope": "phone", "value": "+1", "exp": 2_000_000_000})
        );
    }
}
