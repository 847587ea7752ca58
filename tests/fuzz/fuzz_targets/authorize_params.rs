#![no_main]
//! The `/authorize` parameter parser and validation: any query string or
//! form body, against a confidential, a public and a legacy client. The
//! properties: no panic; a repeated parameter is refused; errors before the
//! redirect URI is trusted are pages (never a redirect), and a redirect
//! only ever goes to a registered URI; a valid request names only
//! registered things and a supported response type, with a challenge when
//! PKCE is required.
use authentiq_server::oidc::authorize::validate::{AuthError, AuthParams, client_id, validate};
use authentiq_server::oidc::clients::{AuthMethod, Client};
use libfuzzer_sys::fuzz_target;

fn clients() -> [Client; 3] {
    let base = Client {
        client_id: "rp".into(),
        name: "RP".into(),
        redirect_uris: vec!["https://rp.example/cb".into(), "com.example.app:/cb".into()],
        response_types: vec!["code".into(), "code id_token".into(), "token".into()],
        client_secret_sha256: Some("x".into()),
        ..Client::default()
    };
    let public = Client {
        token_endpoint_auth_method: AuthMethod::None,
        client_secret_sha256: None,
        ..base.clone()
    };
    let legacy = Client {
        require_pkce: false,
        redirect_uris: vec!["https://rp.example/cb".into()],
        ..base.clone()
    };
    [base, public, legacy]
}

fuzz_target!(|data: &[u8]| {
    let Ok(params) = AuthParams::parse(data) else {
        // Refused only for a repeated parameter.
        let names: Vec<String> = url::form_urlencoded::parse(data)
            .map(|(k, _)| k.into_owned())
            .collect();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert!(unique.len() < names.len(), "refused without a repeat");
        return;
    };
    let _ = client_id(&params);
    for client in clients() {
        match validate(&params, &client) {
            Ok(valid) => {
                let r = &valid.request;
                assert!(client.has_redirect_uri(&r.redirect_uri));
                assert!(client.allows_response_type(&r.response_type));
                if client.require_pkce && r.response_type.split(' ').any(|w| w == "code") {
                    assert!(r.code_challenge.as_deref().is_some_and(|c| c.len() == 43));
                }
                assert!(r.scope.split(' ').any(|s| s == "openid"), "{}", r.scope);
            }
            Err(AuthError::Redirect { redirect_uri, .. }) => {
                assert!(client.has_redirect_uri(&redirect_uri), "redirect to {redirect_uri}");
            }
            Err(AuthError::Page { .. }) => {}
        }
    }
});
