//! The signed-in account: change the password (every other session ends),
//! link or unlink an Authentiq ID ([`super::link`]), sign out everywhere.

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Serialize;

use super::render;
use super::session::{Owner, Posted};
use super::sign_in::signed_out;
use crate::AppState;
use crate::accounts::routes::replace_password;

#[derive(Serialize)]
struct AccountCtx<'a> {
    /// About the password form.
    error: Option<&'a str>,
    /// About linking an Authentiq ID.
    link_error: Option<&'a str>,
    notice: Option<&'static str>,
    /// The linked Authentiq ID.
    linked: Option<&'a str>,
}

fn page(owner: &Owner, status: StatusCode, ctx: AccountCtx<'_>) -> Response {
    render::page(status, "account.html", Some(owner), "account", &ctx)
}

fn account_page(
    owner: &Owner,
    status: StatusCode,
    error: Option<&str>,
    notice: Option<&'static str>,
) -> Response {
    let linked = owner.caller.account.authentiq_pk.as_deref();
    let ctx = AccountCtx {
        error,
        link_error: None,
        notice,
        linked,
    };
    page(owner, status, ctx)
}

/// The account page saying why an Authentiq ID was not linked.
pub fn link_failed(owner: &Owner, status: StatusCode, why: &str) -> Response {
    let linked = owner.caller.account.authentiq_pk.as_deref();
    let ctx = AccountCtx {
        error: None,
        link_error: Some(why),
        notice: None,
        linked,
    };
    page(owner, status, ctx)
}

/// `GET /dashboard/account`.
pub async fn show(owner: Owner, uri: Uri) -> Response {
    let notice = match crate::extract::form_value(uri.query().unwrap_or(""), "done").as_deref() {
        Some("password") => {
            Some("The password was changed. Every other session of this account has ended.")
        }
        Some("linked") => Some(
            "The Authentiq ID is linked: you can sign in with it from the dashboard's sign-in page.",
        ),
        Some("unlinked") => {
            Some("The Authentiq ID is no longer linked. Sign in with your password.")
        }
        _ => None,
    };
    account_page(&owner, StatusCode::OK, None, notice)
}

/// `POST /dashboard/account/password`: `current`, `new`, `confirm`.
pub async fn password(State(state): State<AppState>, posted: Posted) -> Response {
    let Posted { owner, form } = posted;
    let (current, new) = (
        form.get("current").unwrap_or_default().to_string(),
        form.get("new").unwrap_or_default().to_string(),
    );
    if form.get("confirm") != Some(new.as_str()) {
        let why = "The new password and its confirmation differ.";
        return account_page(&owner, StatusCode::BAD_REQUEST, Some(why), None);
    }
    match replace_password(&state, &owner.caller, current, new).await {
        Ok(()) => Redirect::to("/dashboard/account?done=password").into_response(),
        Err(e) if e.status == StatusCode::UNAUTHORIZED => {
            let why = "The current password is not right.";
            account_page(&owner, StatusCode::UNAUTHORIZED, Some(why), None)
        }
        Err(e) if e.status == StatusCode::BAD_REQUEST => {
            account_page(&owner, e.status, Some(&render::sentence(&e.detail)), None)
        }
        Err(e) => render::api_error(Some(&owner), e),
    }
}

/// `POST /dashboard/account/sign-out-everywhere`: every session of the
/// account ends (the API's tokens too), this one included.
pub async fn sign_out_everywhere(State(state): State<AppState>, posted: Posted) -> Response {
    let id = posted.owner.id().to_string();
    if let Err(e) = state
        .db
        .call(move |s| s.delete_account_sessions(&id, None))
        .await
    {
        return render::api_error(Some(&posted.owner), e.into());
    }
    signed_out(&state)
}
