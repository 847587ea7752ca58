//! [`AuthParams`]: the parameters of an authorization request, each
//! optional so that every problem gets a precise answer, and how they are
//! read from a query string or a form body (a repeated parameter is
//! refused, unknown ones are ignored).

use serde::{Deserialize, Serialize};

/// The parameters of an authorization request; all optional here so that
/// every problem gets a precise answer.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthParams {
    pub client_id: Option<String>,
    pub response_type: Option<String>,
    pub scope: Option<String>,
    pub redirect_uri: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub response_mode: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub display: Option<String>,
    pub ui_locales: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub login_hint: Option<String>,
    pub request: Option<String>,
    pub request_uri: Option<String>,
    pub dpop_jkt: Option<String>,
}

impl AuthParams {
    /// From a query string or a form body. A repeated parameter is refused
    /// (RFC 6749 §3.1); unknown ones are ignored.
    pub fn parse(form: &[u8]) -> Result<Self, String> {
        let mut p = Self::default();
        let mut seen = std::collections::HashSet::new();
        for (k, v) in url::form_urlencoded::parse(form) {
            if !seen.insert(k.clone()) {
                return Err(format!("the parameter {k} is repeated"));
            }
            let slot = match k.as_ref() {
                "client_id" => &mut p.client_id,
                "response_type" => &mut p.response_type,
                "scope" => &mut p.scope,
                "redirect_uri" => &mut p.redirect_uri,
                "state" => &mut p.state,
                "nonce" => &mut p.nonce,
                "response_mode" => &mut p.response_mode,
                "prompt" => &mut p.prompt,
                "max_age" => &mut p.max_age,
                "display" => &mut p.display,
                "ui_locales" => &mut p.ui_locales,
                "code_challenge" => &mut p.code_challenge,
                "code_challenge_method" => &mut p.code_challenge_method,
                "login_hint" => &mut p.login_hint,
                "request" => &mut p.request,
                "request_uri" => &mut p.request_uri,
                "dpop_jkt" => &mut p.dpop_jkt,
                _ => continue,
            };
            *slot = Some(v.into_owned());
        }
        Ok(p)
    }
}
