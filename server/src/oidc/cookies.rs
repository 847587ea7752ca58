//! The provider's cookies: all HttpOnly, SameSite=Lax, Secure when the
//! public URL is https.

use axum::http::{HeaderMap, HeaderValue, header};
use cookie::{Cookie, SameSite};

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
