//! The provider's cookies, named here: all HttpOnly and SameSite=Lax
//! (but the browser state, which the session iframe's script reads),
//! Secure when the public URL is https.

use axum::http::{HeaderMap, HeaderValue, header};
use cookie::{Cookie, SameSite};
use sha2::{Digest, Sha256};

/// The SSO session: a bearer secret (its hash is the session's `sid`).
pub const SSO: &str = "aq_sso";
/// How long the SSO session lasts.
pub const SSO_TTL: i64 = 12 * 3600;
/// The OP browser state of OIDC Session Management: random, not secret,
/// new with every sign-in and gone at logout; readable by the session
/// iframe's script, which hashes it into `session_state`.
pub const BROWSER_STATE: &str = "aq_bs";
/// The logout confirmation form's CSRF token (double submit).
pub const LOGOUT_CSRF: &str = "aq_lo";
/// The device code form's CSRF token (double submit), path `/device`.
pub const DEVICE_CSRF: &str = "aq_dc";
/// How long a remembered device's push token cookie lasts.
pub const PUSH_TTL: i64 = 90 * 24 * 3600;

/// Binds a sign-in session to the browser that started it.
pub fn binding(sid: &str) -> String {
    format!("aq_b_{sid}")
}

/// A remembered device's push token for one client.
pub fn push(client_id: &str) -> String {
    let h = Sha256::digest(client_id.as_bytes());
    format!(
        "aq_push_{}",
        h[..6]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

/// The browser state cookie: readable by script, and (over https) sent to
/// the session iframe even when the client's page that frames it is on
/// another site.
pub fn set_browser_state(value: &str, max_age: i64, secure: bool) -> Option<HeaderValue> {
    let c = Cookie::build((BROWSER_STATE, value))
        .path("/")
        .http_only(false)
        .secure(secure)
        .same_site(if secure {
            SameSite::None
        } else {
            SameSite::Lax
        })
        .max_age(cookie::time::Duration::seconds(max_age))
        .build();
    HeaderValue::from_str(&c.to_string()).ok()
}

/// The logout form's CSRF cookie: only ever sent back to `/logout`.
pub fn set_logout_csrf(value: &str, secure: bool) -> Option<HeaderValue> {
    let c = Cookie::build((LOGOUT_CSRF, value))
        .path("/logout")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .max_age(cookie::time::Duration::seconds(600))
        .build();
    HeaderValue::from_str(&c.to_string()).ok()
}

/// Reads cookie `name` from the request.
pub fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

/// A `Set-Cookie` value; `max_age` 0 deletes the cookie.
pub fn set(name: &str, value: &str, path: &str, max_age: i64, secure: bool) -> Option<HeaderValue> {
    let c = Cookie::build((name, value))
        .path(path)
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(cookie::time::Duration::seconds(max_age))
        .build();
    HeaderValue::from_str(&c.to_string()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_attributes() {
        let v = set("aq_sso", "abc", "/", 3600, true).unwrap();
        let s = v.to_str().unwrap();
        for attr in [
            "aq_sso=abc",
            "HttpOnly",
            "SameSite=Lax",
            "Secure",
            "Path=/",
            "Max-Age=3600",
        ] {
            assert!(s.contains(attr), "{s} lacks {attr}");
        }
        let insecure = set("x", "1", "/", 1, false).unwrap();
        assert!(!insecure.to_str().unwrap().contains("Secure"));
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; aq_sso=abc; b=2"),
        );
        assert_eq!(get(&h, "aq_sso").as_deref(), Some("abc"));
        assert_eq!(get(&h, "nope"), None);
    }
}
