//! The server-rendered pages of the OpenID Connect provider: the sign-in
//! page, message pages (errors and end states) and the form-post response
//! page, their static assets and their security headers.
//!
//! Templates are embedded in the binary and rendered by `minijinja` with HTML
//! auto-escaping; pages carry no inline script or style, so a strict
//! Content-Security-Policy (see [`security_headers`]) applies.

mod assets;
mod headers;
mod sign_in;
#[cfg(test)]
mod tests;

use std::sync::LazyLock;

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use assets::{ASSET_URLS, AssetUrls};
pub use assets::{asset_response, assets_router, versioned};
pub use headers::{form_post_security_headers, iframe_security_headers, security_headers};
pub use sign_in::{ClaimView, SignInView, qr_svg, render_sign_in};

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
    Qr(#[from] fast_qr::qr::QRCodeError),
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

/// An HTML error page (no redirect).
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    message_page(status, title, message, MessageKind::Error)
}

/// A message page of any kind (with the pages' security headers).
pub fn message_page(status: StatusCode, title: &str, message: &str, kind: MessageKind) -> Response {
    let mut res = (status, Html(render_message(title, message, kind))).into_response();
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

// ---------------------------------------------------------------------------
// Templates

const BASE_HTML: &str = include_str!("assets/base.html");
const SIGN_IN_HTML: &str = include_str!("assets/sign-in.html");
const MESSAGE_HTML: &str = include_str!("assets/message.html");
const FORM_POST_HTML: &str = include_str!("assets/form-post.html");
const LOGOUT_HTML: &str = include_str!("assets/logout.html");
const CHECK_SESSION_HTML: &str = include_str!("assets/check-session.html");
const DEVICE_HTML: &str = include_str!("assets/device.html");

/// The layout every page extends (`base.html`), for the other
/// server-rendered pages (the owners' dashboard) to extend too.
pub const BASE_TEMPLATE: &str = BASE_HTML;

/// The URLs of the assets `base.html` links (`assets` in its context).
pub fn asset_urls() -> &'static (impl Serialize + Sync) {
    &*ASSET_URLS
}

static TEMPLATES: LazyLock<Result<Environment<'static>, minijinja::Error>> = LazyLock::new(|| {
    let mut env = Environment::new();
    // `.html` templates escape every value (the default for the name).
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.add_template("base.html", BASE_HTML)?;
    env.add_template("sign-in.html", SIGN_IN_HTML)?;
    env.add_template("message.html", MESSAGE_HTML)?;
    env.add_template("form-post.html", FORM_POST_HTML)?;
    env.add_template("logout.html", LOGOUT_HTML)?;
    env.add_template("check-session.html", CHECK_SESSION_HTML)?;
    env.add_template("device.html", DEVICE_HTML)?;
    Ok(env)
});

pub(super) fn render<C: Serialize>(name: &str, ctx: &C) -> Result<String, PageError> {
    let env = TEMPLATES.as_ref().map_err(|e| {
        minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string())
    })?;
    Ok(env
        .get_template(name)?
        .render(minijinja::value::Serde(ctx))?)
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

#[derive(Debug, Serialize)]
struct LogoutCtx<'a> {
    assets: &'a AssetUrls,
    client_name: Option<&'a str>,
    fields: Vec<ParamCtx<'a>>,
}

/// The logout confirmation: a form posting `fields` back to `/logout`
/// with `confirm=yes`. Send it with [`security_headers`].
pub fn render_logout_confirm(client_name: Option<&str>, fields: &[(&str, String)]) -> String {
    let ctx = LogoutCtx {
        assets: &ASSET_URLS,
        client_name,
        fields: fields
            .iter()
            .map(|(name, value)| ParamCtx { name, value })
            .collect(),
    };
    render("logout.html", &ctx).unwrap_or_else(|err| {
        tracing::error!(%err, "logout page template failed");
        fallback_page("Sign out", "<p>The sign-out page could not be shown.</p>")
    })
}

#[derive(Debug, Serialize)]
struct DeviceCtx<'a> {
    assets: &'a AssetUrls,
    user_code: &'a str,
    csrf: &'a str,
    error: Option<&'a str>,
}

/// `/device`: the form for the code a device shows (RFC 8628 §3.3), posted
/// back with a CSRF token (double submit). Send it with [`security_headers`].
pub fn render_device(user_code: &str, csrf: &str, error: Option<&str>) -> String {
    let ctx = DeviceCtx {
        assets: &ASSET_URLS,
        user_code,
        csrf,
        error,
    };
    render("device.html", &ctx).unwrap_or_else(|err| {
        tracing::error!(%err, "device page template failed");
        fallback_page("Connect a device", "<p>The page could not be shown.</p>")
    })
}

pub(super) fn escape_html(s: &str) -> String {
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
pub(super) fn fallback_page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Authentiq</title></head><body><h1>{title}</h1>{body}</body></html>",
        title = escape_html(title),
    )
}

#[derive(Debug, Serialize)]
struct CheckSessionCtx<'a> {
    assets: &'a AssetUrls,
    client_id: &'a str,
}

/// The session iframe's page, for `client_id` (empty: any client). Send it
/// with [`iframe_security_headers`].
pub fn render_check_session(client_id: &str) -> String {
    let ctx = CheckSessionCtx {
        assets: &ASSET_URLS,
        client_id,
    };
    render("check-session.html", &ctx).unwrap_or_else(|err| {
        tracing::error!(%err, "session iframe template failed");
        fallback_page("Session", "")
    })
}
