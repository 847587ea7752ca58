//! The validation tests: every rule in one table of queries, client kinds
//! and the OAuth error each gets; what a valid request carries; which
//! errors are pages and which go back to the client with its `state`; and
//! how parameters are decoded.
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
