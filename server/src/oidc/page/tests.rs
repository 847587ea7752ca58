//! Rendering and headers of the pages.

#![allow(clippy::unwrap_used)] // test code

use super::assets::*;
use super::headers::*;
use super::sign_in::*;
use super::*;
use axum::body::Body;
use axum::http::header::{self, HeaderMap, HeaderName};
use axum::http::{Request, StatusCode};
use tower::ServiceExt;

const NOW: i64 = 1_750_000_000;

fn view() -> SignInView {
    SignInView {
        session_uri: "https://id.example/sign-in/s3ss10n-1d".to_owned(),
        deep_link: "authentiq://sign-in?session=https%3A%2F%2Fid.example%2Fsign-in%2Fs3ss10n-1d"
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

/// The modules of [`qr_svg`]'s markup, dark or not, read back from the path
/// of unit squares it draws (`M{x},{y}h1v1h-1`), with `scale` pixels each.
fn svg_to_pixels(svg: &str, scale: usize) -> (usize, Vec<u8>) {
    let view = svg
        .split("viewBox=\"0 0 ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or_else(|| panic!("no viewBox in {svg}"));
    let path = svg
        .split(" d=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("no path in {svg}"));
    let side = view * scale;
    let mut pixels = vec![255u8; side * side];
    for square in path.split('M').filter(|s| !s.is_empty()) {
        let at = square.split('h').next().unwrap_or_default();
        let (x, y) = at
            .split_once(',')
            .and_then(|(x, y)| Some((x.parse::<usize>().ok()?, y.parse::<usize>().ok()?)))
            .unwrap_or_else(|| panic!("not a unit square: {square}"));
        assert_eq!(&square[at.len()..], "h1v1h-1", "{square}");
        for dy in 0..scale {
            for dx in 0..scale {
                pixels[(y * scale + dy) * side + x * scale + dx] = 0;
            }
        }
    }
    (side, pixels)
}

#[test]
fn qr_code_decodes_to_the_session_uri() {
    let uri = "https://id.example/sign-in/Zm9vYmFyYmF6cXV4LWFiY2RlZmdoaWprbG1ub3A";
    let svg = match qr_svg(uri) {
        Ok(svg) => svg,
        Err(err) => panic!("{err}"),
    };
    let (side, pixels) = svg_to_pixels(&svg, 4);
    let mut img =
        rqrr::PreparedImage::prepare_from_greyscale(side, side, |x, y| pixels[y * side + x]);
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code");
    let (meta, content) = match grids[0].decode() {
        Ok(decoded) => decoded,
        Err(err) => panic!("{err:?}"),
    };
    assert_eq!(content, uri);
    assert_eq!(meta.ecc_level, 0, "error correction M");
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
    assert!(
        html.contains(
            "<input type=\"hidden\" name=\"iss\" value=\"https:&#x2f;&#x2f;id.example\">"
        )
    );
    assert!(!html.contains("<script>alert(1)"));
    assert!(
        html.contains("<button type=\"submit\" class=\"button button-primary\">Continue</button>")
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
    assert!(csp("https://rp.example:8443/cb?x=1").contains("form-action https://rp.example:8443;"));
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
