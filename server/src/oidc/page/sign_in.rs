//! The sign-in page: the client, the claims asked for, the QR code and
//! deep link of the session, "send to my device", the number to match.

use fast_qr::convert::Builder as _;
use fast_qr::convert::svg::SvgBuilder;
use fast_qr::{ECL, QRBuilder};
use serde::Serialize;

use super::{ASSET_URLS, AssetUrls, PageError, render};

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

#[derive(Debug, Serialize)]
pub(super) struct Link {
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

/// The QR code of `data` as inline SVG markup: presentation attributes only
/// (no `style`), so the page's CSP lets it render.
/// Error correction M, the mask with the lowest penalty (ISO/IEC 18004
/// §7.8.3), a quiet zone of 4 modules; 176 px square unless CSS says else.
pub fn qr_svg(data: &str) -> Result<String, PageError> {
    let code = QRBuilder::new(data).ecl(ECL::M).build()?;
    let svg = SvgBuilder::default()
        .margin(4)
        .module_color("#000")
        .background_color("#fff")
        .to_str(&code);
    // Name the image for assistive technology; give it a size.
    Ok(svg.replacen(
        "<svg ",
        "<svg class=\"qr-code\" role=\"img\" aria-label=\"QR code of this sign-in request\" \
         width=\"176\" height=\"176\" shape-rendering=\"crispEdges\" ",
        1,
    ))
}

pub(super) fn is_web_url(uri: &str) -> bool {
    url::Url::parse(uri).is_ok_and(|u| matches!(u.scheme(), "https" | "http") && u.has_host())
}

/// A link to the client's site, shown as its host (and port), or nothing if
/// `uri` is not an http(s) URL.
pub(super) fn web_link(uri: &str) -> Option<Link> {
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

pub(super) fn initial(name: &str) -> String {
    name.trim()
        .chars()
        .next()
        .map_or_else(|| "?".to_owned(), |c| c.to_uppercase().collect())
}

pub(super) fn iso_time(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// "about 5 minutes": what the page says before its script counts down.
pub(super) fn remaining_text(secs: i64) -> String {
    if secs <= 60 {
        return "less than a minute".to_owned();
    }
    let minutes = (secs + 59) / 60;
    format!("about {minutes} minutes")
}
