//! The pages' security headers: a strict CSP, never framed (but the
//! session iframe, by its client's origins), no referrer, no caching.

use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};

const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data: https: http:; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// Headers for the HTML pages ([`render_sign_in`], [`render_message`]): a
/// strict CSP (no inline script or style, forms only to this server, never
/// framed), no referrer, no caching.
pub fn security_headers(headers: &mut HeaderMap) {
    set_page_headers(headers, HeaderValue::from_static(PAGE_CSP));
}

/// Headers for the [`render_form_post`] page: as [`security_headers`], but
/// its form may only be submitted to `redirect_uri_origin` — the origin of
/// the client's redirect URI, e.g. `https://rp.example:8443` (a full URI is
/// reduced to its origin; a URI with a private scheme such as
/// `com.example.app:/cb` allows that scheme). Something that is not a URI
/// allows no form target at all.
pub fn form_post_security_headers(headers: &mut HeaderMap, redirect_uri_origin: &str) {
    let target = form_action_source(redirect_uri_origin);
    let csp = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
         form-action {target}; frame-ancestors 'none'; base-uri 'none'"
    );
    let csp = HeaderValue::from_str(&csp).unwrap_or_else(|_| {
        HeaderValue::from_static(
            "default-src 'none'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
        )
    });
    set_page_headers(headers, csp);
}

/// The CSP source expression that matches `origin` (see
/// [`form_post_security_headers`]), or `'none'`.
fn form_action_source(origin: &str) -> String {
    let Ok(url) = url::Url::parse(origin.trim()) else {
        return "'none'".to_owned();
    };
    let source = match url.origin() {
        url::Origin::Tuple(..) => url.origin().ascii_serialization(),
        url::Origin::Opaque(_) => format!("{}:", url.scheme()),
    };
    // A source expression is one token: anything else would add directives.
    let clean = !source.is_empty()
        && source
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.:/[]".contains(c));
    if clean { source } else { "'none'".to_owned() }
}

fn set_page_headers(headers: &mut HeaderMap, csp: HeaderValue) {
    let fixed: [(HeaderName, &'static str); 4] = [
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CACHE_CONTROL, "no-store"),
    ];
    headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
}

/// Headers for the session iframe: framed only by `origins` (the client's,
/// or every client's), its one script from here, nothing else.
pub fn iframe_security_headers(headers: &mut HeaderMap, origins: &[String]) {
    let sources: Vec<String> = origins
        .iter()
        .map(|o| form_action_source(o))
        .filter(|s| s != "'none'")
        .collect();
    let ancestors = if sources.is_empty() {
        "'none'".to_owned()
    } else {
        sources.join(" ")
    };
    let csp = format!(
        "default-src 'none'; script-src 'self'; frame-ancestors {ancestors}; base-uri 'none'; form-action 'none'"
    );
    let csp = HeaderValue::from_str(&csp)
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"));
    headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    for (name, value) in [
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
}
