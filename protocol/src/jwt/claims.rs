//! The payload of a JWT: [`Registered`], the registered claims of RFC 7519
//! that this system uses (with `aud` as an [`Audience`], a string or an
//! array), and [`Claims`], which carries them beside a typed body and has
//! builders for `sub`, `iss`, `aud` and the validity window.

use serde::{Deserialize, Serialize};

/// `aud` is a string or an array of strings (RFC 7519 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub fn contains(&self, aud: &str) -> bool {
        match self {
            Audience::One(a) => a == aud,
            Audience::Many(v) => v.iter().any(|a| a == aud),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let items: &[String] = match self {
            Audience::One(a) => std::slice::from_ref(a),
            Audience::Many(v) => v,
        };
        items.iter().map(String::as_str)
    }
}

impl From<&str> for Audience {
    fn from(s: &str) -> Self {
        Audience::One(s.to_string())
    }
}

/// The registered claims of RFC 7519 that this system uses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registered {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

/// A JWT payload: the registered claims plus a typed body holding the rest.
/// Body types must not repeat registered claim names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims<T> {
    #[serde(flatten)]
    pub registered: Registered,
    #[serde(flatten)]
    pub body: T,
}

impl<T> Claims<T> {
    pub fn new(body: T) -> Self {
        Self {
            registered: Registered::default(),
            body,
        }
    }

    pub fn subject(mut self, sub: impl Into<String>) -> Self {
        self.registered.sub = Some(sub.into());
        self
    }

    pub fn issuer(mut self, iss: impl Into<String>) -> Self {
        self.registered.iss = Some(iss.into());
        self
    }

    pub fn audience(mut self, aud: impl Into<String>) -> Self {
        self.registered.aud = Some(Audience::One(aud.into()));
        self
    }

    /// Sets `iat` and `nbf` to `now` and `exp` to `now + ttl` seconds.
    pub fn valid_for(mut self, now: i64, ttl: i64) -> Self {
        self.registered.iat = Some(now);
        self.registered.nbf = Some(now);
        self.registered.exp = Some(now.saturating_add(ttl));
        self
    }
}
