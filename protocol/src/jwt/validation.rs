//! [`Validation`]: what a verifier accepts (the current time and its
//! leeway, the longest token, which claims are required, age, lifetime and
//! audience bounds, the header `typ`) and the checks of a protected header
//! and of the registered claims against those rules.

use super::Registered;
use crate::jws::{self, Header, JwsError};

/// What a verifier accepts. Start from [`Validation::at`] and tighten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validation {
    /// Current time, seconds since the epoch (passed in: this crate has no clock).
    pub now: i64,
    /// Allowed clock skew in seconds for `exp`, `nbf` and `iat`.
    pub leeway: i64,
    /// Longest token accepted, in bytes.
    pub max_len: usize,
    /// Refuse tokens without `exp`.
    pub require_exp: bool,
    /// When set, `aud` must be present and contain this value.
    pub audience: Option<String>,
    /// When set, refuse tokens whose `iat` is missing or older than this many seconds.
    pub max_age: Option<i64>,
    /// Refuse tokens without `jti` (the server keeps used ones to stop replays).
    pub require_jti: bool,
    /// When set, refuse tokens whose `exp - iat` exceeds this many seconds
    /// (so that a replay cache only has to remember so long).
    pub max_lifetime: Option<i64>,
    /// The header `typ` required (case-insensitive). `JWT` also accepts a
    /// header without `typ`; any other value must be present.
    pub typ: String,
}

impl Validation {
    /// Defaults: 60 s leeway, 8 KiB, `exp` and `jti` required, `typ` JWT,
    /// no audience check (set one with [`Validation::audience`] wherever
    /// the token names its recipient).
    pub fn at(now: i64) -> Self {
        Self {
            now,
            leeway: 60,
            max_len: jws::DEFAULT_MAX_LEN,
            require_exp: true,
            audience: None,
            max_age: None,
            require_jti: true,
            max_lifetime: None,
            typ: "JWT".into(),
        }
    }

    /// Negative values count as zero.
    pub fn leeway(mut self, secs: i64) -> Self {
        self.leeway = secs.max(0);
        self
    }

    pub fn jti_optional(mut self) -> Self {
        self.require_jti = false;
        self
    }

    pub fn max_lifetime(mut self, secs: i64) -> Self {
        self.max_lifetime = Some(secs.max(0));
        self
    }

    pub fn typ(mut self, typ: impl Into<String>) -> Self {
        self.typ = typ.into();
        self
    }

    /// Checks the protected header's `typ`.
    pub fn check_header(&self, header: &Header) -> Result<(), JwsError> {
        match header.typ.as_deref() {
            None if self.typ.eq_ignore_ascii_case("JWT") => Ok(()),
            Some(t) if t.eq_ignore_ascii_case(&self.typ) => Ok(()),
            found => Err(JwsError::WrongType {
                expected: self.typ.clone(),
                found: found.map(str::to_string),
            }),
        }
    }

    pub fn max_len(mut self, bytes: usize) -> Self {
        self.max_len = bytes;
        self
    }

    pub fn exp_optional(mut self) -> Self {
        self.require_exp = false;
        self
    }

    pub fn audience(mut self, aud: impl Into<String>) -> Self {
        self.audience = Some(aud.into());
        self
    }

    pub fn max_age(mut self, secs: i64) -> Self {
        self.max_age = Some(secs.max(0));
        self
    }

    /// Checks the registered claims against these rules.
    pub fn check(&self, r: &Registered) -> Result<(), JwsError> {
        match r.exp {
            Some(exp) if self.now >= exp.saturating_add(self.leeway) => {
                return Err(JwsError::Expired { exp });
            }
            None if self.require_exp => return Err(JwsError::MissingClaim("exp")),
            _ => {}
        }
        if let Some(nbf) = r.nbf
            && nbf > self.now.saturating_add(self.leeway)
        {
            return Err(JwsError::NotYetValid { nbf });
        }
        if let Some(iat) = r.iat
            && iat > self.now.saturating_add(self.leeway)
        {
            return Err(JwsError::IssuedInFuture { iat });
        }
        if let Some(max_age) = self.max_age {
            let iat = r.iat.ok_or(JwsError::MissingClaim("iat"))?;
            if self.now.saturating_sub(iat) > max_age.saturating_add(self.leeway) {
                return Err(JwsError::TooOld { iat });
            }
        }
        if self.require_jti && r.jti.as_deref().is_none_or(str::is_empty) {
            return Err(JwsError::MissingClaim("jti"));
        }
        if let Some(max) = self.max_lifetime {
            let iat = r.iat.ok_or(JwsError::MissingClaim("iat"))?;
            let exp = r.exp.ok_or(JwsError::MissingClaim("exp"))?;
            let lifetime = exp.saturating_sub(iat);
            if lifetime > max {
                return Err(JwsError::LifetimeTooLong { lifetime, max });
            }
        }
        if let Some(want) = &self.audience {
            let aud = r.aud.as_ref().ok_or(JwsError::MissingClaim("aud"))?;
            if !aud.contains(want) {
                return Err(JwsError::AudienceMismatch(want.clone()));
            }
        }
        Ok(())
    }
}
