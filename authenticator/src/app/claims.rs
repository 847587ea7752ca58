//! Verified claims: starting and finishing the verification of an email
//! address or phone number, checking the issuer's grant for it, and the
//! grants kept.

use std::time::Duration;

use authentiq_protocol::Validation;
use authentiq_protocol::jwt::{self, Claims};
use authentiq_protocol::payloads::{ClaimScope, ScopeGrant};
use serde_json::Value;

use super::{AppError, Authenticator, now};
use crate::local::StoredGrant;

impl Authenticator {
    /// Starts verifying an email or phone number: the server sends a code.
    pub async fn verify_start(
        &self,
        scope: ClaimScope,
        value: &str,
        test: bool,
    ) -> Result<String, AppError> {
        let token = self.identity()?.claim_request(now(), scope, value)?;
        let job = self.client.claim(token, test).await?;
        self.local()?
            .set_meta(&format!("job:{}:{value}", scope.as_str()), &job)?;
        Ok(job)
    }

    /// The job started last for this value, for entering the code later.
    pub fn pending_job(&self, scope: ClaimScope, value: &str) -> Result<Option<String>, AppError> {
        Ok(self
            .local()?
            .get_meta(&format!("job:{}:{value}", scope.as_str()))?)
    }

    /// Confirms with the code, checks the issuer's grant, keeps it, and
    /// binds the verified value to the key.
    pub async fn verify_finish(
        &self,
        scope: ClaimScope,
        job: &str,
        code: &str,
    ) -> Result<StoredGrant, AppError> {
        self.client.confirm(job, code).await?;
        let mut grant = None;
        for _ in 0..20 {
            if let Some(g) = self.client.grant(job).await? {
                grant = Some(g);
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let token =
            grant.ok_or_else(|| AppError::Untrusted("the server did not issue a grant".into()))?;
        let stored = self.check_grant(&token, scope).await?;
        self.local()?.put_grant(&stored)?;
        let identity = self.identity()?;
        let binding = match scope {
            ClaimScope::Email => identity.binding(now(), Some(&stored.value), None)?,
            ClaimScope::Phone => identity.binding(now(), None, Some(&stored.value))?,
        };
        self.client.bind(&self.profile.pk, binding).await?;
        Ok(stored)
    }

    /// A grant must be issued by the server's key, for this key and scope.
    async fn check_grant(&self, token: &str, scope: ClaimScope) -> Result<StoredGrant, AppError> {
        let jwks = self.client.jwks().await?;
        let kid = jwt::peek_kid(token, authentiq_protocol::jws::DEFAULT_MAX_LEN)
            .map_err(|e| AppError::Untrusted(e.to_string()))?
            .ok_or_else(|| AppError::Untrusted("the grant names no key".into()))?;
        let key = keys_find(&jwks, &kid)
            .ok_or_else(|| AppError::Untrusted(format!("grant signed by unknown key {kid}")))?;
        let claims: Claims<ScopeGrant> = jwt::verify(
            token,
            key.verifying_key(),
            Some(&kid),
            &Validation::at(now()),
        )
        .map_err(|e| AppError::Untrusted(format!("the grant does not verify: {e}")))?;
        if claims.registered.sub.as_deref() != Some(self.profile.pk.as_str())
            || claims.body.scope != scope
        {
            return Err(AppError::Untrusted(
                "the grant is not for this key and scope".into(),
            ));
        }
        let value = match scope {
            ClaimScope::Email => claims.body.email,
            ClaimScope::Phone => claims.body.phone_number,
        }
        .ok_or_else(|| AppError::Untrusted("the grant has no value".into()))?;
        Ok(StoredGrant {
            scope: scope.as_str().into(),
            value,
            jwt: token.to_string(),
            exp: claims.registered.exp.unwrap_or(i64::MAX),
        })
    }

    pub fn grants(&self) -> Result<Vec<StoredGrant>, AppError> {
        Ok(self.local()?.grants(now())?)
    }
}

fn keys_find(jwks: &Value, kid: &str) -> Option<authentiq_protocol::AuthentiqId> {
    jwks["keys"]
        .as_array()?
        .iter()
        .find(|k| k["kid"] == kid && k["kty"] == "OKP")
        .and_then(|k| k["x"].as_str()?.parse().ok())
}
