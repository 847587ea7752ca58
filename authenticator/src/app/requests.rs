//! Sign-in requests: the inbox, opening one from its link or QR code,
//! approving (with the number shown, or none for a backchannel request) or
//! denying it, and the history of decisions.

use authentiq_protocol::payloads::{
    Decision as Answer, DeviceEvent, SignInRequest, SignInResponse,
};
use authentiq_protocol::scope::{Scope, ScopeName};
use serde_json::{Map, json};

use super::{AppError, Authenticator, now};
use crate::local::{Decision, Request};
use crate::purpose;

impl Authenticator {
    /// Pending requests that have not expired.
    pub fn inbox(&self) -> Result<Vec<Request>, AppError> {
        Ok(self.local()?.pending(now())?)
    }

    /// Adds a request from a QR code or deep link (the session URI).
    pub async fn open_session(&self, session: &str) -> Result<Request, AppError> {
        let token = self.client.fetch_request(session).await?;
        let keys = self.server_keys().await?;
        let claims = keys
            .verify(&token, None, now())
            .map_err(|e| AppError::Untrusted(e.to_string()))?;
        let DeviceEvent::SignIn(req) = claims.body else {
            return Err(AppError::Untrusted("not a sign-in request".into()));
        };
        if req.session != session {
            return Err(AppError::Untrusted(
                "the request is for another session".into(),
            ));
        }
        let mut r = inbox_entry(
            &req,
            &token,
            claims.registered.iat.unwrap_or_else(now),
            claims.registered.exp.unwrap_or(0),
        );
        // Already in the inbox (the same request came over the channel):
        // `r.id` is then the id it has there.
        self.local()?.add_request(&mut r, now())?;
        Ok(r)
    }

    pub(super) fn pending_request(&self, id: &str) -> Result<Request, AppError> {
        let r = self
            .local()?
            .request(id)?
            .ok_or_else(|| AppError::UnknownRequest(id.into()))?;
        if r.state != "pending" {
            return Err(AppError::UnknownRequest(id.into()));
        }
        if r.expires_at <= now() {
            return Err(AppError::Expired(id.into()));
        }
        Ok(r)
    }

    pub(super) fn record(
        &self,
        r: &Request,
        result: &str,
        detail: Option<String>,
    ) -> Result<(), AppError> {
        let local = self.local()?;
        local.set_request_state(
            &r.id,
            if result == "approved" {
                "approved"
            } else {
                "denied"
            },
        )?;
        local.record(&Decision {
            request_id: r.id.clone(),
            purpose: r.purpose,
            backchannel: r.backchannel,
            binding_message: r.binding_message.clone(),
            client_id: r.client_id.clone(),
            client_name: r.client_name.clone(),
            ip: r.ip.clone(),
            user_agent: r.user_agent.clone(),
            decided_at: now(),
            result: result.into(),
            detail,
        })?;
        Ok(())
    }

    /// Approves with the number the user picked — or, for a backchannel
    /// request (CIBA: no sign-in page shows a number), with none: the user
    /// checked its binding message instead, and the answer carries no
    /// number. A number for a backchannel request, or none for another, is
    /// refused before anything is sent. Required claims are always shared
    /// (with their grants); optional ones only if named in `share`.
    /// Returns the request answered (what it was for, to say so).
    pub async fn approve(
        &self,
        id: &str,
        number: Option<u16>,
        share: &[String],
        remember: bool,
    ) -> Result<Request, AppError> {
        let r = self.pending_request(id)?;
        let shown = || {
            r.numbers
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let number = match (r.backchannel, number) {
            (true, None) => None,
            (true, Some(_)) => {
                return Err(AppError::NoNumberToMatch(
                    r.id.clone(),
                    r.client_name.clone(),
                ));
            }
            (false, None) => return Err(AppError::NumberRequired(r.id.clone(), shown())),
            (false, Some(n)) if !r.numbers.contains(&n) => {
                return Err(AppError::NotACandidate(n, shown()));
            }
            (false, Some(n)) => Some(n),
        };
        let requested: Scope = r.scope.parse().unwrap_or_default();
        let grants = self.grants()?;
        let mut shared = vec!["openid".to_string()];
        let mut claims = Map::new();
        let mut attached = Vec::new();
        for item in requested.items() {
            let name = item.name.to_string();
            if item.name == ScopeName::OpenId {
                continue;
            }
            let wanted = item.required || share.contains(&name);
            if !wanted {
                continue;
            }
            let grant_scope = match item.name {
                ScopeName::Email => Some("email"),
                ScopeName::Phone => Some("phone"),
                _ => None,
            };
            if let Some(gs) = grant_scope {
                match grants.iter().find(|g| g.scope == gs) {
                    Some(g) => {
                        let claim = if gs == "email" {
                            "email"
                        } else {
                            "phone_number"
                        };
                        claims.insert(claim.into(), json!(g.value));
                        attached.push(g.jwt.clone());
                    }
                    None if item.required => {
                        // Nothing to share: the server will refuse, say why here.
                        return Err(AppError::Io(format!(
                            "{} requires a verified {gs}: run `aq verify {gs} …` first",
                            r.client_name
                        )));
                    }
                    None => continue,
                }
            }
            shared.push(name);
        }
        let identity = self.identity()?;
        let push_token = if remember && requested.contains(&ScopeName::AqPush) {
            Some(identity.push_token(now(), &format!("{}/sign-in", self.profile.server))?)
        } else {
            None
        };
        let body = SignInResponse {
            decision: Answer::Approve,
            nonce: r.nonce.clone(),
            number,
            scope: shared.join(" "),
            claims,
            grants: attached,
            push_token,
            report: false,
        };
        let token = identity.sign_in_response(now(), &r.session, body)?;
        match self.client.answer(&r.session, token).await {
            Ok(_) => self.record(&r, "approved", None).map(|()| r),
            Err(e) => {
                self.record(&r, "refused", Some(e.to_string()))?;
                Err(e.into())
            }
        }
    }

    /// Denies; with `report`, tells the server this was not the user.
    /// Returns the request answered.
    pub async fn deny(&self, id: &str, report: bool) -> Result<Request, AppError> {
        let r = self.pending_request(id)?;
        let body = SignInResponse {
            decision: Answer::Deny,
            nonce: r.nonce.clone(),
            number: None,
            scope: String::new(),
            claims: Map::new(),
            grants: Vec::new(),
            push_token: None,
            report,
        };
        let token = self.identity()?.sign_in_response(now(), &r.session, body)?;
        self.client.answer(&r.session, token).await?;
        self.record(&r, if report { "reported" } else { "denied" }, None)?;
        Ok(r)
    }

    pub fn history(&self, limit: u32) -> Result<Vec<Decision>, AppError> {
        Ok(self.local()?.history(limit)?)
    }
}

/// The session URI a sign-in link names: `authentiq://sign-in?session=URI`
/// (the sign-in page's button and QR code, and an SDK session's
/// `deepLink`) gives the URI it carries; anything else is taken to be the
/// session URI itself.
pub fn session_of_link(link: &str) -> Result<String, AppError> {
    let link = link.trim();
    let Ok(url) = url::Url::parse(link) else {
        return Ok(link.to_string());
    };
    if url.scheme() != "authentiq" {
        return Ok(link.to_string());
    }
    let invalid = |why: &str| AppError::Io(format!("not an Authentiq sign-in link: {why}"));
    // `authentiq://sign-in?…` names the action as its host, `authentiq:sign-in?…` as its path.
    let action = url
        .host_str()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| url.path())
        .trim_matches('/');
    if action != "sign-in" {
        return Err(invalid("it is not a sign-in"));
    }
    url.query_pairs()
        .find(|(k, _)| k == "session")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| invalid("it names no session"))
}

/// The inbox entry for a verified request (its id is the inbox's to give).
/// The binding message is the client's text: kept as plain text, cleaned
/// ([`purpose::clean_binding_message`]), and only with `backchannel` (a
/// request matched by number has none to check).
pub(super) fn inbox_entry(req: &SignInRequest, token: &str, iat: i64, exp: i64) -> Request {
    Request {
        id: String::new(),
        session: req.session.clone(),
        purpose: req.purpose,
        backchannel: req.backchannel,
        binding_message: req
            .backchannel
            .then(|| purpose::clean_binding_message(req.binding_message.as_deref()))
            .flatten(),
        event: token.to_string(),
        client_id: req.client.client_id.clone(),
        client_name: req.client.name.clone(),
        client_uri: req.client.uri.clone(),
        scope: req.scope.clone(),
        ip: req.requester.ip.clone(),
        user_agent: req.requester.user_agent.clone(),
        numbers: req.numbers,
        nonce: req.nonce.clone(),
        received_at: iat,
        expires_at: exp,
        state: "pending".into(),
    }
}
