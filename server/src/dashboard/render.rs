//! Rendering the dashboard's pages: its templates extend the sign-in
//! page's `base.html` and are rendered by `minijinja` with HTML
//! auto-escaping (every value, names and URIs included); responses carry
//! the pages' security headers (the strict CSP: scripts and styles only
//! from this server, forms only to it, never framed).

use std::sync::LazyLock;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::value::{Serde, Value};
use minijinja::{Environment, UndefinedBehavior, context};
use serde::Serialize;

use super::assets;
use super::session::Owner;
use crate::ApiError;
use crate::oidc::page;

const TEMPLATES_SRC: &[(&str, &str)] = &[
    (
        "dashboard/layout.html",
        include_str!("templates/layout.html"),
    ),
    (
        "dashboard/message.html",
        include_str!("templates/message.html"),
    ),
    (
        "dashboard/sign-in.html",
        include_str!("templates/sign-in.html"),
    ),
    (
        "dashboard/clients.html",
        include_str!("templates/clients.html"),
    ),
    (
        "dashboard/client-fields.html",
        include_str!("templates/client-fields.html"),
    ),
    (
        "dashboard/client-new.html",
        include_str!("templates/client-new.html"),
    ),
    (
        "dashboard/client.html",
        include_str!("templates/client.html"),
    ),
    (
        "dashboard/client-secret.html",
        include_str!("templates/client-secret.html"),
    ),
    (
        "dashboard/client-delete.html",
        include_str!("templates/client-delete.html"),
    ),
    (
        "dashboard/admin-accounts.html",
        include_str!("templates/admin-accounts.html"),
    ),
    (
        "dashboard/admin-clients.html",
        include_str!("templates/admin-clients.html"),
    ),
    (
        "dashboard/account.html",
        include_str!("templates/account.html"),
    ),
    (
        "dashboard/admin-events.html",
        include_str!("templates/admin-events.html"),
    ),
    (
        "dashboard/admin-account-delete.html",
        include_str!("templates/admin-account-delete.html"),
    ),
    (
        "dashboard/account-unlink.html",
        include_str!("templates/account-unlink.html"),
    ),
    (
        "dashboard/admin-status.html",
        include_str!("templates/admin-status.html"),
    ),
];

static TEMPLATES: LazyLock<Result<Environment<'static>, minijinja::Error>> = LazyLock::new(|| {
    let mut env = Environment::new();
    // `.html` templates escape every value (the default for the name).
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.add_template("base.html", page::BASE_TEMPLATE)?;
    for (name, src) in TEMPLATES_SRC {
        env.add_template(name, src)?;
    }
    Ok(env)
});

fn render_to_string(name: &str, ctx: Value) -> Result<String, minijinja::Error> {
    let env = TEMPLATES.as_ref().map_err(|e| {
        minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string())
    })?;
    env.get_template(name)?.render(ctx)
}

/// Renders the template `name` (under `dashboard/`) with `ctx`, for
/// `owner` (the navigation and the CSRF token; `None` before sign-in);
/// `section` marks the current item of the navigation.
pub fn page<C: Serialize>(
    status: StatusCode,
    name: &str,
    owner: Option<&Owner>,
    section: &str,
    ctx: &C,
) -> Response {
    let full = context! {
        ..Value::from(Serde(ctx)),
        ..context! {
            assets => Value::from(Serde(page::asset_urls())),
            dash => Value::from(Serde(&*assets::URLS)),
            me => Value::from(Serde(owner.map(Owner::me))),
            csrf => owner.map(|o| o.csrf.clone()).unwrap_or_default(),
            section => section,
        }
    };
    match render_to_string(&format!("dashboard/{name}"), full) {
        Ok(html) => {
            let mut res = (status, Html(html)).into_response();
            page::security_headers(res.headers_mut());
            res
        }
        Err(err) => {
            tracing::error!(%err, template = name, "dashboard template failed");
            page::failure_page()
        }
    }
}

#[derive(Serialize)]
struct MessageCtx<'a> {
    title: &'a str,
    message: &'a str,
}

/// A page that only says something (an error, mostly).
pub fn message(status: StatusCode, owner: Option<&Owner>, title: &str, message: &str) -> Response {
    page(
        status,
        "message.html",
        owner,
        "",
        &MessageCtx { title, message },
    )
}

/// The page for an error: what it says for a client error, nothing of
/// ours for a server error (logged where it happened).
pub fn api_error(owner: Option<&Owner>, e: ApiError) -> Response {
    if e.status.is_server_error() {
        return message(
            StatusCode::INTERNAL_SERVER_ERROR,
            owner,
            "Something went wrong",
            "The server could not complete this step. Try again in a moment.",
        );
    }
    let text = sentence(&e.detail);
    let mut res = message(e.status, owner, e.title, &text);
    if let Some(secs) = e.retry_after {
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    res
}

/// `detail` as a sentence: capitalised (but a first word that names a
/// field, like `redirect_uris`), with a full stop.
pub fn sentence(detail: &str) -> String {
    let detail = detail.trim();
    let names_a_field = detail.split(' ').next().is_some_and(|w| w.contains('_'));
    let mut chars = detail.chars();
    let mut out: String = match chars.next() {
        Some(c) if !names_a_field => c.to_uppercase().chain(chars).collect(),
        Some(_) => detail.to_string(),
        None => return String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// 404 for a client or account the owner may not see (or that is gone).
pub fn not_found(owner: &Owner, what: &str) -> Response {
    message(
        StatusCode::NOT_FOUND,
        Some(owner),
        "Not found",
        &format!("There is no {what} here, or it is not yours."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        assert!(TEMPLATES.as_ref().is_ok(), "{:?}", TEMPLATES.as_ref().err());
    }

    #[test]
    fn details_read_as_sentences() {
        assert_eq!(
            sentence("redirect_uris are required"),
            "redirect_uris are required."
        );
        assert_eq!(sentence("invalid credentials"), "Invalid credentials.");
        assert_eq!(sentence("Done."), "Done.");
        assert_eq!(sentence(""), "");
    }
}
