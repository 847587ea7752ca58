//! Validating an authorization request: pure functions over plain values
//! (the parameters and the client), so every rule is tested by a table and
//! fuzzed, and the handler only translates.
//!
//! Until the client and its redirect URI are known to be right, errors are
//! an error page and never a redirect (RFC 9700 §4.1).

use authentiq_protocol::errors::OAuthErrorCode;
use authentiq_protocol::scope::{Scope, ScopeName};
use serde::{Deserialize, Serialize};

use crate::oidc::clients::{self, Client};
use crate::oidc::session::{AuthRequest, ResponseMode};

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

/// Why a request is refused, and how the answer travels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// The client or its redirect URI cannot be trusted: an error page.
    Page {
        title: &'static str,
        message: &'static str,
    },
    /// Back to the client's (registered) redirect URI.
    Redirect {
        redirect_uri: String,
        mode: ResponseMode,
        state: Option<String>,
        code: OAuthErrorCode,
        description: String,
    },
}

/// A valid request, and whether it asks for no interaction.
#[derive(Debug, Clone)]
pub struct Valid {
    pub request: AuthRequest,
    pub prompt_none: bool,
}

const RESPONSE_TYPES: &[&str] = &[
    "code",
    "token",
    "id_token",
    "id_token token",
    "code id_token",
    "code token",
    "code id_token token",
];

/// The `client_id` to look up.
pub fn client_id(p: &AuthParams) -> Result<&str, AuthError> {
    p.client_id
        .as_deref()
        .filter(|c| !c.is_empty())
        .ok_or(AuthError::Page {
            title: "Invalid sign-in request",
            message: "The request names no client (client_id is missing).",
        })
}

/// A scope a new grant may ask for: it parses, includes `openid` and names
/// only known scopes (the `invalid_scope` description otherwise).
pub fn openid_scope(scope: &str) -> Result<Scope, String> {
    let scope: Scope = scope
        .parse()
        .map_err(|e: authentiq_protocol::scope::ScopeError| e.to_string())?;
    if !scope.contains(&ScopeName::OpenId) {
        return Err("the scope must include openid".into());
    }
    if let Some(unknown) = scope.unknown().next() {
        return Err(format!("unknown scope {unknown}"));
    }
    Ok(scope)
}

/// Checks the request against its client.
pub fn validate(p: &AuthParams, client: &Client) -> Result<Valid, AuthError> {
    let redirect_uri = match p.redirect_uri.as_deref() {
        Some(r) if client.has_redirect_uri(r) => r.to_string(),
        Some(_) => {
            return Err(AuthError::Page {
                title: "Invalid redirect",
                message: "The address this sign-in would return to is not registered for this application, so you are not sent there.",
            });
        }
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        None => {
            return Err(AuthError::Page {
                title: "Invalid sign-in request",
                message: "The request names no redirect_uri.",
            });
        }
    };
    // 2. From here on, errors go back to the client.
    let rt_words = clients::normalize_response_type(p.response_type.as_deref().unwrap_or(""));
    let response_type = rt_words.join(" ");
    let default_mode = if response_type == "code" {
        ResponseMode::Query
    } else {
        ResponseMode::Fragment
    };
    let mode = match p.response_mode.as_deref() {
        None => default_mode,
        Some("query") if response_type == "code" => ResponseMode::Query,
        Some("fragment") => ResponseMode::Fragment,
        Some("form_post") => ResponseMode::FormPost,
        Some(_) => default_mode,
    };
    let fail = |code: OAuthErrorCode, desc: &str| AuthError::Redirect {
        redirect_uri: redirect_uri.clone(),
        mode,
        state: p.state.clone(),
        code,
        description: desc.to_string(),
    };
    if p.response_mode
        .as_deref()
        .is_some_and(|m| !["query", "fragment", "form_post"].contains(&m))
    {
        return Err(fail(
            OAuthErrorCode::InvalidRequest,
            "unsupported response_mode",
        ));
    }
    if p.response_mode.as_deref() == Some("query") && response_type != "code" {
        return Err(fail(
            OAuthErrorCode::InvalidRequest,
            "tokens are never sent in the query: use fragment or form_post",
        ));
    }
    if p.request.is_some() {
        return Err(fail(
            OAuthErrorCode::RequestNotSupported,
            "request objects are not supported",
        ));
    }
    if p.request_uri.is_some() {
        return Err(fail(
            OAuthErrorCode::RequestUriNotSupported,
            "request_uri is not supported",
        ));
    }
    if !RESPONSE_TYPES
        .iter()
        .any(|r| clients::normalize_response_type(r) == rt_words)
    {
        return Err(fail(
            OAuthErrorCode::UnsupportedResponseType,
            "unsupported response_type",
        ));
    }
    if !client.allows_response_type(&response_type) {
        return Err(fail(
            OAuthErrorCode::UnauthorizedClient,
            "this client may not use this response_type",
        ));
    }
    let scope = match openid_scope(p.scope.as_deref().unwrap_or("")) {
        Ok(s) => s,
        Err(why) => return Err(fail(OAuthErrorCode::InvalidScope, &why)),
    };
    // OIDC Core §3.2.2.1, §3.3.2.11: an ID token or a hybrid response from
    // the authorization endpoint needs a nonce (plain OAuth `token` does not).
    if !matches!(response_type.as_str(), "code" | "token")
        && p.nonce.as_deref().is_none_or(str::is_empty)
    {
        return Err(fail(
            OAuthErrorCode::InvalidRequest,
            "a nonce is required when tokens come from the authorization endpoint",
        ));
    }
    match (
        p.code_challenge.as_deref(),
        p.code_challenge_method.as_deref(),
    ) {
        (Some(_), Some("plain")) => {
            return Err(fail(
                OAuthErrorCode::InvalidRequest,
                "code_challenge_method plain is not supported; use S256",
            ));
        }
        (Some(c), Some("S256")) if is_challenge(c) => {}
        (Some(_), Some("S256")) => {
            return Err(fail(
                OAuthErrorCode::InvalidRequest,
                "code_challenge must be 43 characters of base64url (S256)",
            ));
        }
        (Some(_), None) => {
            return Err(fail(
                OAuthErrorCode::InvalidRequest,
                "code_challenge_method is required; use S256",
            ));
        }
        (Some(_), Some(_)) => {
            return Err(fail(
                OAuthErrorCode::InvalidRequest,
                "unsupported code_challenge_method; use S256",
            ));
        }
        (None, Some(_)) => {
            return Err(fail(
                OAuthErrorCode::InvalidRequest,
                "code_challenge_method without code_challenge",
            ));
        }
        (None, None) if client.require_pkce && rt_words.contains(&"code") => {
            return Err(fail(
                OAuthErrorCode::InvalidRequest,
                "PKCE is required: send code_challenge with code_challenge_method S256",
            ));
        }
        (None, None) => {}
    }
    let max_age = match p.max_age.as_deref().map(str::parse::<i64>) {
        None => None,
        Some(Ok(v)) if v >= 0 => Some(v),
        Some(_) => {
            return Err(fail(
                OAuthErrorCode::InvalidRequest,
                "max_age must be a non-negative integer",
            ));
        }
    };
    let prompts: Vec<&str> = p
        .prompt
        .as_deref()
        .unwrap_or("")
        .split(' ')
        .filter(|w| !w.is_empty())
        .collect();
    if prompts.contains(&"none") && prompts.len() > 1 {
        return Err(fail(
            OAuthErrorCode::InvalidRequest,
            "prompt=none cannot be combined with other values",
        ));
    }
    if let Some(bad) = prompts
        .iter()
        .find(|w| !["none", "login", "consent", "select_account"].contains(w))
    {
        return Err(fail(
            OAuthErrorCode::InvalidRequest,
            &format!("unsupported prompt {bad}"),
        ));
    }
    // A SHA-256 JWK thumbprint is 43 characters of base64url, as a challenge.
    if p.dpop_jkt.as_deref().is_some_and(|j| !is_challenge(j)) {
        return Err(fail(
            OAuthErrorCode::InvalidRequest,
            "dpop_jkt must be a SHA-256 JWK thumbprint (43 characters of base64url)",
        ));
    }
    let request = AuthRequest {
        client_id: client.client_id.clone(),
        redirect_uri,
        response_type,
        response_mode: mode,
        scope: scope.to_string(),
        state: p.state.clone(),
        nonce: p.nonce.clone(),
        code_challenge: p.code_challenge.clone(),
        max_age,
        dpop_jkt: p.dpop_jkt.clone(),
    };

    Ok(Valid {
        request,
        prompt_none: prompts.contains(&"none"),
    })
}

fn is_challenge(c: &str) -> bool {
    c.len() == 43
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code
    use super::*;
    use crate::oidc::clients::{AuthMethod, SubjectType};
    use OAuthErrorCode::*;

    const CB: &str = "https://rp.example/cb";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    /// `public`, `confidential`, `legacy` (confidential, PKCE optional) or
    /// `implicit` (allowed `response_type=token`).
    fn client(kind: &str) -> Client {
        let public = kind == "public";
        Client {
            client_id: "rp".into(),
            client_secret: None,
            client_secret_sha256: None,
            name: "RP".into(),
            redirect_uris: vec![CB.into()],
            client_uri: None,
            logo_uri: None,
            token_endpoint_auth_method: if public {
                AuthMethod::None
            } else {
                AuthMethod::ClientSecretBasic
            },
            response_types: if kind == "implicit" {
                vec!["token".into()]
            } else {
                vec!["code".into(), "code id_token".into()]
            },
            id_token_signed_response_alg: "RS256".into(),
            subject_type: SubjectType::Pairwise,
            require_pkce: kind != "legacy",
            ..Client::default()
        }
    }

    fn params(query: &str) -> AuthParams {
        AuthParams::parse(format!("client_id=rp&redirect_uri={CB}&{query}").as_bytes()).unwrap()
    }

    /// The OAuth error a query gets, or `None` if it is valid.
    fn error_of(query: &str, kind: &str) -> Option<(OAuthErrorCode, String)> {
        match validate(&params(query), &client(kind)) {
            Ok(_) => None,
            Err(AuthError::Redirect {
                code, description, ..
            }) => Some((code, description)),
            Err(AuthError::Page { title, .. }) => panic!("a page ({title}) for {query}"),
        }
    }

    #[test]
    fn every_rule_in_a_table() {
        let pkce = format!("code_challenge={CHALLENGE}&code_challenge_method=S256");
        let ok = format!("response_type=code&scope=openid&{pkce}");
        let ok = ok.as_str();
        let bare = "response_type=code&scope=openid";
        let table: &[(&str, &str, Option<OAuthErrorCode>)] = &[
            (ok, "legacy", None),
            (
                "response_type=code&scope=openid%20email~rs%20aq:push",
                "legacy",
                None,
            ),
            (
                "response_type=code%20id_token&scope=openid&nonce=n",
                "legacy",
                None,
            ),
            (
                "response_type=id_token%20code&scope=openid&nonce=n",
                "legacy",
                None,
            ),
            (
                "response_type=code&scope=openid&response_mode=form_post",
                "legacy",
                None,
            ),
            (
                "response_type=code&scope=openid&response_mode=jwt",
                "legacy",
                Some(InvalidRequest),
            ),
            (
                "response_type=code%20id_token&scope=openid&nonce=n&response_mode=query",
                "legacy",
                Some(InvalidRequest),
            ),
            (
                "response_type=code&scope=openid&request=x",
                "legacy",
                Some(RequestNotSupported),
            ),
            (
                "response_type=code&scope=openid&request_uri=x",
                "legacy",
                Some(RequestUriNotSupported),
            ),
            (
                "response_type=code%20token&scope=openid&nonce=n",
                "legacy",
                Some(UnauthorizedClient),
            ),
            (
                "response_type=token&scope=openid",
                "legacy",
                Some(UnauthorizedClient),
            ),
            ("response_type=token&scope=openid", "implicit", None),
            (
                "response_type=token%20banana&scope=openid",
                "implicit",
                Some(UnsupportedResponseType),
            ),
            (
                "response_type=banana&scope=openid",
                "legacy",
                Some(UnsupportedResponseType),
            ),
            ("scope=openid", "legacy", Some(UnsupportedResponseType)),
            (
                "response_type=code&scope=email",
                "legacy",
                Some(InvalidScope),
            ),
            (
                "response_type=code&scope=openid%20nope",
                "legacy",
                Some(InvalidScope),
            ),
            (
                "response_type=code&scope=openid%20email~x",
                "legacy",
                Some(InvalidScope),
            ),
            (
                "response_type=code%20id_token&scope=openid",
                "legacy",
                Some(InvalidRequest),
            ),
            (
                "response_type=code&scope=openid&code_challenge=x&code_challenge_method=plain",
                "legacy",
                Some(InvalidRequest),
            ),
            (
                "response_type=code&scope=openid&code_challenge=short&code_challenge_method=S256",
                "legacy",
                Some(InvalidRequest),
            ),
            (
                &format!("response_type=code&scope=openid&code_challenge={CHALLENGE}"),
                "legacy",
                Some(InvalidRequest),
            ),
            (
                &format!(
                    "response_type=code&scope=openid&code_challenge={CHALLENGE}&code_challenge_method=S512"
                ),
                "legacy",
                Some(InvalidRequest),
            ),
            (
                "response_type=code&scope=openid&code_challenge_method=S256",
                "legacy",
                Some(InvalidRequest),
            ),
            (bare, "public", Some(InvalidRequest)),
            (bare, "confidential", Some(InvalidRequest)),
            (bare, "legacy", None),
            (ok, "confidential", None),
            (ok, "public", None),
            (&format!("{ok}&max_age=0"), "legacy", None),
            (&format!("{ok}&max_age=-1"), "legacy", Some(InvalidRequest)),
            (
                &format!("{ok}&max_age=soon"),
                "legacy",
                Some(InvalidRequest),
            ),
            (&format!("{ok}&prompt=login%20consent"), "legacy", None),
            (
                &format!("{ok}&prompt=none%20login"),
                "legacy",
                Some(InvalidRequest),
            ),
            (
                &format!("{ok}&prompt=sometimes"),
                "legacy",
                Some(InvalidRequest),
            ),
        ];
        for (query, kind, want) in table {
            let got = error_of(query, kind).map(|(c, _)| c);
            assert_eq!(&got, want, "{query} ({kind})");
        }
    }

    #[test]
    fn the_valid_request_carries_what_was_asked() {
        let v = validate(
            &params(&format!(
                "response_type=id_token%20code&scope=email~r%20openid&state=s1&nonce=n1&prompt=none&max_age=60&code_challenge={CHALLENGE}&code_challenge_method=S256"
            )),
            &client("confidential"),
        )
        .unwrap();
        assert!(v.prompt_none);
        let r = v.request;
        assert_eq!(r.response_type, "code id_token");
        assert_eq!(r.response_mode, ResponseMode::Fragment);
        assert_eq!(r.redirect_uri, CB);
        assert_eq!(
            (r.state.as_deref(), r.nonce.as_deref()),
            (Some("s1"), Some("n1"))
        );
        assert_eq!(r.max_age, Some(60));
        assert_eq!(r.code_challenge.as_deref(), Some(CHALLENGE));
        assert!(
            r.scope.contains("email~r") && r.scope.contains("openid"),
            "{}",
            r.scope
        );
    }

    #[test]
    fn errors_before_the_redirect_uri_is_trusted_are_pages() {
        let c = client("confidential");
        for query in [
            "client_id=rp&redirect_uri=https://evil.example/cb&response_type=code&scope=openid",
            "client_id=rp&redirect_uri=https://rp.example/cb/&response_type=code&scope=openid",
        ] {
            let p = AuthParams::parse(query.as_bytes()).unwrap();
            assert!(
                matches!(validate(&p, &c), Err(AuthError::Page { .. })),
                "{query}"
            );
        }
        let mut two = client("confidential");
        two.redirect_uris.push("https://rp.example/other".into());
        let p = AuthParams::parse(
            format!("client_id=rp&response_type=code&scope=openid&code_challenge={CHALLENGE}&code_challenge_method=S256").as_bytes(),
        )
        .unwrap();
        assert!(matches!(validate(&p, &two), Err(AuthError::Page { .. })));
        // With one registered URI it may be left out.
        assert_eq!(validate(&p, &c).unwrap().request.redirect_uri, CB);
        assert!(matches!(
            client_id(&AuthParams::parse(b"client_id=").unwrap()),
            Err(AuthError::Page { .. })
        ));
    }

    #[test]
    fn errors_at_the_redirect_uri_echo_state() {
        let err = validate(
            &params("response_type=code&scope=email&state=xyz"),
            &client("confidential"),
        );
        let Err(AuthError::Redirect {
            state,
            redirect_uri,
            mode,
            ..
        }) = err
        else {
            panic!("{err:?}")
        };
        assert_eq!(
            (state.as_deref(), redirect_uri.as_str(), mode),
            (Some("xyz"), CB, ResponseMode::Query)
        );
    }

    #[test]
    fn parameters_are_decoded_once_and_never_repeated() {
        let p = AuthParams::parse(b"scope=openid%20email&state=a%2Bb+c&extra=1").unwrap();
        assert_eq!(p.scope.as_deref(), Some("openid email"));
        assert_eq!(p.state.as_deref(), Some("a+b c"));
        let err = AuthParams::parse(b"client_id=a&client_id=b").unwrap_err();
        assert!(err.contains("client_id"), "{err}");
        assert_eq!(AuthParams::parse(b"").unwrap(), AuthParams::default());
    }
}
