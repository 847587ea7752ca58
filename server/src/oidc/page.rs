//! The server-rendered pages of the OpenID Connect provider: the sign-in
//! page, message pages (errors and end states) and the form-post response
//! page, their static assets and their security headers.
//!
//! Templates are embedded in the binary and rendered by `minijinja` with HTML
//! auto-escaping; pages carry no inline script or style, so a strict
//! Content-Security-Policy (see [`security_headers`]) applies.

use std::sync::LazyLock;

use axum::Router;
use axum::http::StatusCode;
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use minijinja::{Environment, UndefinedBehavior};
use qrcode::QrCode;
use qrcode::types::EcLevel;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// What the sign-in page shows.
#[derive(Debug, Clone)]
pub struct SignInView {
    /// The sign-in session URI, e.g. `https://id.example/sign-in/<sid>`:
    /// encoded in the QR code; the app posts its signed response there.
    pub session_uri: String,
    /// `authentiq://sign-in?session=<percent-encoded session_uri>`.
    pub deep_link: String,
    pub client_name: String,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    /// The claims the client asks for.
    pub claims: Vec<ClaimView>,
    /// The number the user must pick in the app.
    pub number: u16,
    /// Server-Sent Events with the session status (see [`StatusEvent`]).
    pub events_url: String,
    /// Form target (POST, fields `email` and `csrf`) for "send to my device".
    pub push_url: String,
    /// Anti-CSRF token for the form above.
    pub csrf: String,
    /// Whether a push was already sent (remembered device): say so.
    pub pushed: bool,
    /// Seconds since the epoch when the session expires.
    pub expires_at: i64,
}

#[derive(Debug, Clone)]
pub struct ClaimView {
    /// Scope or claim name as requested, e.g. `email`.
    pub name: String,
    /// Human label, e.g. "Email address".
    pub label: String,
    pub required: bool,
    /// Must be verified (issuer-signed, `~s`).
    pub verified: bool,
}

/// The `data` of each `status` event on `events_url`, as JSON:
/// `{"status":"pending"|"approved"|"denied"|"expired","continue":"<url>"?,"message":"…"?}`.
/// On `approved`, the page goes to `continue` by itself.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StatusEvent {
    pub status: &'static str,
    #[serde(rename = "continue", skip_serializing_if = "Option::is_none")]
    pub continue_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A page could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("template: {0}")]
    Template(#[from] minijinja::Error),
    #[error("QR code: {0}")]
    Qr(#[from] qrcode::types::QrError),
    #[error("the deep link is not an authentiq: URI")]
    DeepLink,
}

/// The look of a [`render_message`] page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// Bad request, unknown client, wrong `redirect_uri`: nothing to go back to.
    Error,
    /// The user denied the sign-in.
    Denied,
    /// The sign-in request expired.
    Expired,
    /// Anything else worth saying.
    Info,
}

impl MessageKind {
    fn as_str(self) -> &'static str {
        match self {
            MessageKind::Error => "error",
            MessageKind::Denied => "denied",
            MessageKind::Expired => "expired",
            MessageKind::Info => "info",
        }
    }
}

// ---------------------------------------------------------------------------
// Static assets

const SIGN_IN_JS: &str = include_str!("assets/sign-in.js");
const SIGN_IN_CSS: &str = include_str!("assets/sign-in.css");
const FORM_POST_JS: &str = include_str!("assets/form-post.js");
const ICON_SVG: &str = include_str!("assets/authentiq.svg");

const JS_TYPE: &str = "text/javascript; charset=utf-8";
const CSS_TYPE: &str = "text/css; charset=utf-8";
const SVG_TYPE: &str = "image/svg+xml";
const ASSET_CACHE: &str = "public, max-age=3600";

/// Versioned URLs of the static assets, as the templates link them: the
/// `?v=` changes with the content, so a new release is not held back by
/// browser caches.
#[derive(Debug, Serialize)]
struct AssetUrls {
    js: String,
    css: String,
    form_post_js: String,
    icon: String,
}

static ASSET_URLS: LazyLock<AssetUrls> = LazyLock::new(|| AssetUrls {
    js: versioned("/static/sign-in.js", SIGN_IN_JS),
    css: versioned("/static/sign-in.css", SIGN_IN_CSS),
    form_post_js: versioned("/static/form-post.js", FORM_POST_JS),
    icon: versioned("/static/authentiq.svg", ICON_SVG),
});

fn versioned(path: &str, content: &str) -> String {
    let digest = Sha256::digest(content.as_bytes());
    let mut url = format!("{path}?v=");
    for byte in digest.iter().take(5) {
        url.push_str(&format!("{byte:02x}"));
    }
    url
}

/// `GET /static/sign-in.js`, `/static/sign-in.css`, `/static/form-post.js`
/// and `/static/authentiq.svg` (the favicon), embedded in the binary.
pub fn assets_router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/static/sign-in.js",
            get(|| async { asset(JS_TYPE, SIGN_IN_JS) }),
        )
        .route(
            "/static/sign-in.css",
            get(|| async { asset(CSS_TYPE, SIGN_IN_CSS) }),
        )
        .route(
            "/static/form-post.js",
            get(|| async { asset(JS_TYPE, FORM_POST_JS) }),
        )
        .route(
            "/static/authentiq.svg",
            get(|| async { asset(SVG_TYPE, ICON_SVG) }),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, ASSET_CACHE),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
}

// ---------------------------------------------------------------------------
// Security headers

const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data: https: http:; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// An HTML error page (no redirect).
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    let mut res = (
        status,
        Html(render_message(title, message, MessageKind::Error)),
    )
        .into_response();
    security_headers(res.headers_mut());
    res
}

/// The page for a failure of ours (logged where it happened): never
/// dressed up as an expired sign-in or a missing session.
pub fn failure_page() -> Response {
    error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "The server could not complete this step. Try again in a moment.",
    )
}

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

// ---------------------------------------------------------------------------
// Templates

const BASE_HTML: &str = include_str!("assets/base.html");
const SIGN_IN_HTML: &str = include_str!("assets/sign-in.html");
const MESSAGE_HTML: &str = include_str!("assets/message.html");
const FORM_POST_HTML: &str = include_str!("assets/form-post.html");

static TEMPLATES: LazyLock<Result<Environment<'static>, minijinja::Error>> = LazyLock::new(|| {
    let mut env = Environment::new();
    // `.html` templates escape every value (the default for the name).
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.add_template("base.html", BASE_HTML)?;
    env.add_template("sign-in.html", SIGN_IN_HTML)?;
    env.add_template("message.html", MESSAGE_HTML)?;
    env.add_template("form-post.html", FORM_POST_HTML)?;
    Ok(env)
});

fn render<C: Serialize>(name: &str, ctx: &C) -> Result<String, PageError> {
    let env = TEMPLATES.as_ref().map_err(|e| {
        minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string())
    })?;
    Ok(env
        .get_template(name)?
        .render(minijinja::value::Serde(ctx))?)
}

#[derive(Debug, Serialize)]
struct Link {
    href: String,
    text: String,
}

#[derive(Debug, Serialize)]
struct ClaimCtx<'a> {
    name: &'a str,
    label: &'a str,
    required: bool,
    verified: bool,
}

#[derive(Debug, Serialize)]
struct SignInCtx<'a> {
    assets: &'a AssetUrls,
    client_name: &'a str,
    client_initial: String,
    client_link: Option<Link>,
    logo_uri: Option<&'a str>,
    claims: Vec<ClaimCtx<'a>>,
    number: u16,
    /// Markup from [`qr_svg`]: numbers and fixed colours only.
    qr_svg: String,
    deep_link: &'a str,
    events_url: &'a str,
    push_url: &'a str,
    csrf: &'a str,
    pushed: bool,
    expires_at: i64,
    expires_iso: String,
    expires_text: String,
    now: i64,
}

/// The sign-in page (see [`security_headers`] for its headers), rendered
/// at the server's idea of `now` (seconds since the epoch, from its clock):
/// the page's countdown corrects the browser's clock with it.
pub fn render_sign_in(view: &SignInView, now: i64) -> Result<String, PageError> {
    if !view.deep_link.starts_with("authentiq://") {
        return Err(PageError::DeepLink);
    }
    let ctx = SignInCtx {
        assets: &ASSET_URLS,
        client_name: &view.client_name,
        client_initial: initial(&view.client_name),
        client_link: view.client_uri.as_deref().and_then(web_link),
        logo_uri: view.logo_uri.as_deref().filter(|u| is_web_url(u)),
        claims: view
            .claims
            .iter()
            .map(|c| ClaimCtx {
                name: &c.name,
                label: &c.label,
                required: c.required,
                verified: c.verified,
            })
            .collect(),
        number: view.number,
        qr_svg: qr_svg(&view.session_uri)?,
        deep_link: &view.deep_link,
        events_url: &view.events_url,
        push_url: &view.push_url,
        csrf: &view.csrf,
        pushed: view.pushed,
        expires_at: view.expires_at,
        expires_iso: iso_time(view.expires_at),
        expires_text: remaining_text(view.expires_at.saturating_sub(now)),
        now,
    };
    render("sign-in.html", &ctx)
}

#[derive(Debug, Serialize)]
struct MessageCtx<'a> {
    assets: &'a AssetUrls,
    title: &'a str,
    message: &'a str,
    kind: &'static str,
}

/// A page that only says something: an error that must not redirect (bad
/// sign-in link, unknown client, wrong `redirect_uri`) or an end state
/// (denied, expired). Send it with [`security_headers`].
pub fn render_message(title: &str, message: &str, status_class: MessageKind) -> String {
    let ctx = MessageCtx {
        assets: &ASSET_URLS,
        title,
        message,
        kind: status_class.as_str(),
    };
    render("message.html", &ctx).unwrap_or_else(|err| {
        tracing::error!(%err, "message page template failed");
        fallback_page(title, &format!("<p>{}</p>", escape_html(message)))
    })
}

#[derive(Debug, Serialize)]
struct ParamCtx<'a> {
    name: &'a str,
    value: &'a str,
}

#[derive(Debug, Serialize)]
struct FormPostCtx<'a> {
    assets: &'a AssetUrls,
    redirect_uri: &'a str,
    host: Option<String>,
    params: Vec<ParamCtx<'a>>,
}

/// The OAuth 2.0 Form Post Response Mode page: a form that POSTs `params`
/// to `redirect_uri`, submitted by `/static/form-post.js`, with a Continue
/// button for browsers without script. Send it with
/// [`form_post_security_headers`].
pub fn render_form_post(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    let ctx = FormPostCtx {
        assets: &ASSET_URLS,
        redirect_uri,
        host: url::Url::parse(redirect_uri)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned)),
        params: params
            .iter()
            .map(|&(name, value)| ParamCtx { name, value })
            .collect(),
    };
    render("form-post.html", &ctx).unwrap_or_else(|err| {
        tracing::error!(%err, "form post page template failed");
        let mut body = format!(
            "<form method=\"post\" action=\"{}\">",
            escape_html(redirect_uri)
        );
        for (name, value) in params {
            body.push_str(&format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape_html(name),
                escape_html(value)
            ));
        }
        body.push_str("<button type=\"submit\">Continue</button></form>");
        fallback_page("Continuing", &body)
    })
}

// ---------------------------------------------------------------------------
// Helpers

/// The QR code of `data` as inline SVG markup: presentation attributes only
/// (no `style`), so the page's CSP lets it render.
fn qr_svg(data: &str) -> Result<String, PageError> {
    let code = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M)?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(176, 176)
        .dark_color(qrcode::render::svg::Color("#000"))
        .light_color(qrcode::render::svg::Color("#fff"))
        .build();
    // Drop the XML declaration, name the image for assistive technology.
    let svg = match svg.find("<svg") {
        Some(start) => &svg[start..],
        None => svg.as_str(),
    };
    Ok(svg.replacen(
        "<svg ",
        "<svg class=\"qr-code\" role=\"img\" aria-label=\"QR code of this sign-in request\" ",
        1,
    ))
}

fn is_web_url(uri: &str) -> bool {
    url::Url::parse(uri).is_ok_and(|u| matches!(u.scheme(), "https" | "http") && u.has_host())
}

/// A link to the client's site, shown as its host (and port), or nothing if
/// `uri` is not an http(s) URL.
fn web_link(uri: &str) -> Option<Link> {
    let url = url::Url::parse(uri).ok()?;
    if !matches!(url.scheme(), "https" | "http") {
        return None;
    }
    let host = url.host_str()?;
    let text = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    Some(Link {
        href: url.to_string(),
        text,
    })
}

fn initial(name: &str) -> String {
    name.trim()
        .chars()
        .next()
        .map_or_else(|| "?".to_owned(), |c| c.to_uppercase().collect())
}

fn iso_time(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// "about 5 minutes": what the page says before its script counts down.
fn remaining_text(secs: i64) -> String {
    if secs <= 60 {
        return "less than a minute".to_owned();
    }
    let minutes = (secs + 59) / 60;
    format!("about {minutes} minutes")
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            _ => out.push(c),
        }
    }
    out
}

/// A bare page for when a template fails (it should not): `body` is markup.
fn fallback_page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Authentiq</title></head><body><h1>{title}</h1>{body}</body></html>",
        title = escape_html(title),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    const NOW: i64 = 1_750_000_000;

    fn view() -> SignInView {
        SignInView {
            session_uri: "https://id.example/sign-in/s3ss10n-1d".to_owned(),
            deep_link:
                "authentiq://sign-in?session=https%3A%2F%2Fid.example%2Fsign-in%2Fs3ss10n-1d"
                    .to_owned(),
            client_name: "Example Shop".to_owned(),
            client_uri: Some("https://shop.example/about".to_owned()),
            logo_uri: Some("https://shop.example/logo.png".to_owned()),
            claims: vec![
                ClaimView {
                    name: "email".to_owned(),
                    label: "Email address".to_owned(),
                    required: true,
                    verified: true,
                },
                ClaimView {
                    name: "aq:name".to_owned(),
                    label: "Name".to_owned(),
                    required: false,
                    verified: false,
                },
                ClaimView {
                    name: "phone".to_owned(),
                    label: "Phone number".to_owned(),
                    required: false,
                    verified: true,
                },
            ],
            number: 47,
            events_url: "/sign-in/s3ss10n-1d/events".to_owned(),
            push_url: "/sign-in/s3ss10n-1d/push".to_owned(),
            csrf: "csrf-t0ken".to_owned(),
            pushed: false,
            expires_at: NOW + 300,
        }
    }

    fn page(view: &SignInView) -> String {
        match render_sign_in(view, NOW) {
            Ok(html) => html,
            Err(err) => panic!("render failed: {err}"),
        }
    }

    /// The `<li>` of the claim labelled `label`.
    fn claim_item<'a>(html: &'a str, label: &str) -> &'a str {
        let at = html
            .find(&format!("<span class=\"claim-label\">{label}</span>"))
            .unwrap_or_else(|| panic!("no claim {label}"));
        let end = html[at..].find("</li>").map_or(html.len(), |e| at + e);
        &html[at..end]
    }

    #[test]
    fn sign_in_page_shows_client_number_claims_qr_and_deep_link() {
        let html = page(&view());
        assert!(html.starts_with("<!doctype html>"));
        assert!(html.contains("<span class=\"client-name\">Example Shop</span>"));
        assert!(html.contains("wants to sign you in with Authentiq"));
        assert!(html.contains(
            "<img class=\"client-logo\" src=\"https:&#x2f;&#x2f;shop.example&#x2f;logo.png\" alt=\"Example Shop logo\""
        ));
        assert!(html.contains("rel=\"noopener noreferrer\""));
        assert!(html.contains(">shop.example<"));
        assert!(html.contains("<p class=\"number\" id=\"aq-number\">47</p>"));
        assert!(html.contains("Pick this number in the Authentiq app"));

        let email = claim_item(&html, "Email address");
        assert!(email.contains(">Required<") && email.contains("Verified</span>"));
        let name = claim_item(&html, "Name");
        assert!(name.contains(">Optional<") && !name.contains("Verified"));
        let phone = claim_item(&html, "Phone number");
        assert!(phone.contains(">Optional<") && phone.contains("Verified</span>"));

        assert!(html.contains("<svg class=\"qr-code\" role=\"img\""));
        assert!(!html.contains("<?xml"));
        assert!(html.contains(
            "href=\"authentiq:&#x2f;&#x2f;sign-in?session=https%3A%2F%2Fid.example%2Fsign-in%2Fs3ss10n-1d\""
        ));
        assert!(html.contains("Open in the Authentiq app"));

        assert!(html.contains("<form class=\"push-form\" method=\"post\" action=\"&#x2f;sign-in&#x2f;s3ss10n-1d&#x2f;push\">"));
        assert!(html.contains("<input type=\"hidden\" name=\"csrf\" value=\"csrf-t0ken\">"));
        assert!(html.contains("<label for=\"aq-email\">"));
        assert!(html.contains("id=\"aq-email\" name=\"email\" type=\"email\" required"));
        assert!(!html.contains("We sent the request to your device."));

        assert!(html.contains("role=\"status\" aria-live=\"polite\""));
        assert!(html.contains("data-events-url=\"&#x2f;sign-in&#x2f;s3ss10n-1d&#x2f;events\""));
        assert!(html.contains(&format!("data-expires-at=\"{}\"", NOW + 300)));
        assert!(html.contains(&format!("data-server-now=\"{NOW}\"")));
        assert!(html.contains("about 5 minutes"));
        assert!(html.contains("<script src=\"&#x2f;static&#x2f;sign-in.js?v="));
        assert!(html.contains("<link rel=\"stylesheet\" href=\"&#x2f;static&#x2f;sign-in.css?v="));
    }

    #[test]
    fn pushed_page_says_so() {
        let mut v = view();
        v.pushed = true;
        assert!(page(&v).contains("We sent the request to your device."));
    }

    #[test]
    fn pages_have_no_inline_script_or_style() {
        let mut html = page(&view());
        html.push_str(&render_message("Oops", "Something", MessageKind::Error));
        html.push_str(&render_form_post("https://rp.example/cb", &[("code", "c")]));
        assert!(!html.contains("<style"));
        assert!(!html.contains("style="));
        for (at, _) in html.match_indices(" on") {
            let rest = &html[at + 3..];
            let name_len = rest.chars().take_while(char::is_ascii_lowercase).count();
            assert!(
                !rest[name_len..].starts_with('='),
                "event handler attribute at {}",
                &html[at..at + 20]
            );
        }
        for (at, _) in html.match_indices("<script") {
            assert!(html[at..].starts_with("<script src="), "inline script");
        }
        assert!(!html.contains("javascript:"));
    }

    #[test]
    fn html_in_client_data_is_escaped() {
        let mut v = view();
        v.client_name = "<script>alert(1)</script>".to_owned();
        v.claims[0].label = "<b>bold</b>".to_owned();
        v.claims[1].name = "\"><img src=x>".to_owned();
        v.logo_uri = Some("https://shop.example/\"onerror=\"alert(1)".to_owned());
        v.client_uri = Some("https://shop.example/?q=\"><script>x</script>".to_owned());
        v.csrf = "\"><x>".to_owned();
        let html = page(&v);
        assert!(!html.contains("<script>alert(1)</script>"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"));
        assert!(!html.contains("<b>bold</b>"));
        assert!(html.contains("&lt;b&gt;bold&lt;&#x2f;b&gt;"));
        assert!(!html.contains("<img src=x>"));
        assert!(!html.contains("\"onerror="));
        assert!(!html.contains("<script>x"));
        assert!(!html.contains("\"><x>"));
    }

    #[test]
    fn only_web_urls_become_logo_images_and_links() {
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:image/svg+xml,<svg onload=alert(1)>",
            "//evil.example/logo.png",
            "not a url",
            "file:///etc/passwd",
        ] {
            let mut v = view();
            v.logo_uri = Some(bad.to_owned());
            v.client_uri = Some(bad.to_owned());
            let html = page(&v);
            assert!(!html.contains("<img"), "{bad} became an image");
            assert!(
                !html.contains("class=\"client-uri\""),
                "{bad} became a link"
            );
            assert!(html.contains("class=\"client-logo client-initial\" aria-hidden=\"true\">E<"));
        }
        let mut v = view();
        v.logo_uri = Some("http://shop.example/logo.png".to_owned());
        v.client_uri = None;
        let html = page(&v);
        assert!(html.contains("<img class=\"client-logo\" src=\"http:"));
        assert!(!html.contains("class=\"client-uri\""));
    }

    #[test]
    fn client_link_shows_host_and_port() {
        let mut v = view();
        v.client_uri = Some("https://shop.example:8443/x".to_owned());
        let html = page(&v);
        assert!(html.contains("href=\"https:&#x2f;&#x2f;shop.example:8443&#x2f;x\""));
        assert!(html.contains(">shop.example:8443<"));
        assert!(html.contains("target=\"_blank\" rel=\"noopener noreferrer\""));
    }

    #[test]
    fn no_claims_and_no_logo() {
        let mut v = view();
        v.claims.clear();
        v.logo_uri = None;
        v.client_name = "élan".to_owned();
        let html = page(&v);
        assert!(html.contains("Only your Authentiq ID."));
        assert!(!html.contains("class=\"claim-list\""));
        assert!(html.contains("aria-hidden=\"true\">É<"));
    }

    #[test]
    fn countdown_text_and_time() {
        let mut v = view();
        v.expires_at = NOW + 30;
        let html = page(&v);
        assert!(html.contains("less than a minute"));
        assert!(html.contains("datetime=\"2025-06-15T15:07:10Z\""));
        assert_eq!(remaining_text(61), "about 2 minutes");
        assert_eq!(remaining_text(600), "about 10 minutes");
    }

    #[test]
    fn deep_link_must_be_authentiq() {
        let mut v = view();
        v.deep_link = "javascript:alert(1)".to_owned();
        assert!(matches!(render_sign_in(&v, 0), Err(PageError::DeepLink)));
    }

    #[test]
    fn qr_code_is_plain_svg() {
        let svg = match qr_svg("https://id.example/sign-in/abc") {
            Ok(svg) => svg,
            Err(err) => panic!("{err}"),
        };
        assert!(svg.starts_with("<svg class=\"qr-code\""));
        assert!(svg.ends_with("</svg>"));
        assert!(svg.contains("viewBox=\"0 0 "));
        assert!(!svg.contains("style"));
        assert!(!svg.contains("<?xml"));
    }

    #[test]
    fn message_pages() {
        let cases = [
            (
                MessageKind::Error,
                "This sign-in link is not valid",
                "message-error",
            ),
            (MessageKind::Denied, "Sign-in was denied", "message-denied"),
            (
                MessageKind::Expired,
                "This sign-in request expired",
                "message-expired",
            ),
            (MessageKind::Info, "Signed out", "message-info"),
        ];
        for (kind, title, class) in cases {
            let html = render_message(title, "Go back & <try> again.", kind);
            assert!(html.starts_with("<!doctype html>"));
            assert!(html.contains(&format!("<h1>{title}</h1>")));
            assert!(html.contains(&format!("class=\"message {class}\"")));
            assert!(html.contains("Go back &amp; &lt;try&gt; again."));
            assert!(html.contains(&format!("<title>{title} · Authentiq</title>")));
            assert!(!html.contains("<script"));
        }
        let html = render_message("<i>x</i>", "m", MessageKind::Error);
        assert!(!html.contains("<i>x</i>"));
    }

    #[test]
    fn form_post_escapes_and_carries_every_param() {
        let html = render_form_post(
            "https://rp.example/cb?a=1&b=\"2\"",
            &[
                ("code", "c0de"),
                ("state", "\"><script>alert(1)</script>"),
                ("iss", "https://id.example"),
            ],
        );
        assert!(html.contains(
            "<form class=\"form-post\" method=\"post\" action=\"https:&#x2f;&#x2f;rp.example&#x2f;cb?a=1&amp;b=&quot;2&quot;\">"
        ));
        assert!(html.contains("<input type=\"hidden\" name=\"code\" value=\"c0de\">"));
        assert!(html.contains(
            "<input type=\"hidden\" name=\"state\" value=\"&quot;&gt;&lt;script&gt;alert(1)&lt;&#x2f;script&gt;\">"
        ));
        assert!(html.contains(
            "<input type=\"hidden\" name=\"iss\" value=\"https:&#x2f;&#x2f;id.example\">"
        ));
        assert!(!html.contains("<script>alert(1)"));
        assert!(
            html.contains(
                "<button type=\"submit\" class=\"button button-primary\">Continue</button>"
            )
        );
        assert!(html.contains("<script src=\"&#x2f;static&#x2f;form-post.js?v="));
        assert!(html.contains("<strong>rp.example</strong>"));
    }

    #[test]
    fn fallback_escapes() {
        let page = fallback_page("<t>", "<p>ok</p>");
        assert!(page.contains("<title>&lt;t&gt; · Authentiq</title>"));
        assert_eq!(escape_html("a&<>\"'"), "a&amp;&lt;&gt;&quot;&#x27;");
    }

    fn header(headers: &HeaderMap, name: HeaderName) -> &str {
        headers
            .get(&name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no {name}"))
    }

    #[test]
    fn page_security_headers() {
        let mut headers = HeaderMap::new();
        security_headers(&mut headers);
        assert_eq!(
            header(&headers, header::CONTENT_SECURITY_POLICY),
            "default-src 'none'; script-src 'self'; style-src 'self'; \
             img-src 'self' data: https: http:; connect-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'"
        );
        assert_eq!(header(&headers, header::X_FRAME_OPTIONS), "DENY");
        assert_eq!(header(&headers, header::REFERRER_POLICY), "no-referrer");
        assert_eq!(header(&headers, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
        assert_eq!(header(&headers, header::CACHE_CONTROL), "no-store");
    }

    #[test]
    fn form_post_headers_allow_only_the_client_origin() {
        let csp = |origin: &str| {
            let mut headers = HeaderMap::new();
            form_post_security_headers(&mut headers, origin);
            assert_eq!(header(&headers, header::X_FRAME_OPTIONS), "DENY");
            assert_eq!(header(&headers, header::CACHE_CONTROL), "no-store");
            header(&headers, header::CONTENT_SECURITY_POLICY).to_owned()
        };
        let policy = csp("https://rp.example");
        assert!(
            policy.contains("form-action https://rp.example;"),
            "{policy}"
        );
        assert!(policy.contains("frame-ancestors 'none'"));
        assert!(policy.contains("script-src 'self'"));
        assert!(
            csp("https://rp.example:8443/cb?x=1").contains("form-action https://rp.example:8443;")
        );
        assert!(csp("http://127.0.0.1:3000").contains("form-action http://127.0.0.1:3000;"));
        assert!(csp("com.example.app:/cb").contains("form-action com.example.app:;"));
        for bad in ["", "rp.example", "https://a; script-src *", "x\r\ny: z"] {
            let policy = csp(bad);
            assert!(!policy.contains("script-src *"), "{bad:?}: {policy}");
            assert!(!policy.contains("y: z"), "{bad:?}: {policy}");
        }
        assert!(csp("not a uri").contains("form-action 'none'"));
    }

    async fn get(path: &str) -> (StatusCode, HeaderMap, String) {
        let request = match Request::get(path).body(Body::empty()) {
            Ok(r) => r,
            Err(err) => panic!("{err}"),
        };
        let response = match assets_router::<()>().oneshot(request).await {
            Ok(r) => r,
            Err(err) => match err {},
        };
        let (parts, body) = response.into_parts();
        let bytes = match axum::body::to_bytes(body, 1 << 20).await {
            Ok(b) => b,
            Err(err) => panic!("{err}"),
        };
        (
            parts.status,
            parts.headers,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    #[tokio::test]
    async fn assets_router_serves_the_files() {
        let cases = [
            (
                "/static/sign-in.js",
                "text/javascript; charset=utf-8",
                SIGN_IN_JS,
            ),
            (
                "/static/sign-in.css",
                "text/css; charset=utf-8",
                SIGN_IN_CSS,
            ),
            (
                "/static/form-post.js",
                "text/javascript; charset=utf-8",
                FORM_POST_JS,
            ),
            ("/static/authentiq.svg", "image/svg+xml", ICON_SVG),
        ];
        for (path, content_type, content) in cases {
            let (status, headers, body) = get(path).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert_eq!(header(&headers, header::CONTENT_TYPE), content_type);
            assert_eq!(
                header(&headers, header::CACHE_CONTROL),
                "public, max-age=3600"
            );
            assert_eq!(header(&headers, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
            assert_eq!(body, content);
        }
        // The versioned URLs the pages use reach the same files.
        let (status, _, body) = get(&ASSET_URLS.js).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("EventSource"));
        let (status, _, _) = get("/static/nope.js").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    #[test]
    fn script_speaks_the_status_protocol() {
        let approved = StatusEvent {
            status: "approved",
            continue_url: Some("https://rp.example/cb?code=x".to_owned()),
            message: None,
        };
        let json = serde_json::to_string(&approved).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"status":"approved","continue":"https://rp.example/cb?code=x"}"#
        );
        for needle in [
            "data-events-url",
            "data-expires-at",
            "addEventListener(\"status\"",
            "data[\"continue\"]",
            "location.assign",
            "\"denied\"",
            "\"expired\"",
            "aq-status",
            "data-challenge",
        ] {
            assert!(SIGN_IN_JS.contains(needle), "{needle}");
        }
        assert!(FORM_POST_JS.contains("document.forms[0]"));
        assert!(SIGN_IN_CSS.contains("prefers-color-scheme: dark"));
        assert!(SIGN_IN_CSS.contains("#f26641"));
    }
}
