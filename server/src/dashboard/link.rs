//! Linking an Authentiq ID to the signed-in account (the same flow as
//! "Sign in with Authentiq", [`super::authentiq`], its verified `sub`
//! stored as the account's `authentiq_pk`), and unlinking it after a
//! confirmation.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Serialize;

use super::account::link_failed;
use super::authentiq::{self, Purpose, Refusal};
use super::render;
use super::session::{self, Owner, Posted};
use crate::AppState;
use crate::store::StoreError;

/// `POST /dashboard/account/authentiq`: to the provider, to approve on the
/// device whose ID is to be linked.
pub async fn start(State(state): State<AppState>, posted: Posted) -> Response {
    authentiq::begin(&state, &Purpose::Link(posted.owner.id().to_string()))
}

/// The signed-in account, if it is the one the flow was started for.
async fn owner_for(
    state: &AppState,
    headers: &HeaderMap,
    account: &str,
) -> Result<Owner, Response> {
    match session::current(state, headers).await {
        Ok(Some(o)) if o.id() == account => Ok(o),
        Ok(Some(o)) => Err(link_failed(
            &o,
            StatusCode::FORBIDDEN,
            "The link was started for another account of this dashboard. Start again.",
        )),
        Ok(None) => Err(render::message(
            StatusCode::FORBIDDEN,
            None,
            "Sign in first",
            "The session that started linking the Authentiq ID has ended. Sign in and start again.",
        )),
        Err(e) => Err(render::api_error(None, e)),
    }
}

/// The end of the flow: `pk` stored on the account (unless another
/// account has it).
pub async fn finish(state: &AppState, headers: &HeaderMap, account: &str, pk: String) -> Response {
    let owner = match owner_for(state, headers, account).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let mut changed = owner.caller.account.clone();
    changed.authentiq_pk = Some(pk);
    match state.db.call(move |s| s.update_account(&changed)).await {
        Ok(()) => {
            tracing::info!(account = %owner.id(), "linked an Authentiq ID to a dashboard account");
            Redirect::to("/dashboard/account?done=linked").into_response()
        }
        Err(StoreError::Conflict("duplicate-pk")) => link_failed(
            &owner,
            StatusCode::CONFLICT,
            "This Authentiq ID is already linked to another account of this dashboard. Unlink it there first.",
        ),
        Err(e) => render::api_error(Some(&owner), e.into()),
    }
}

/// A link flow that did not end in an Authentiq ID: the account page (or,
/// signed out, a message) saying why.
pub async fn refused(state: &AppState, headers: &HeaderMap, r: Refusal) -> Response {
    match session::current(state, headers).await {
        Ok(Some(o)) if !r.status.is_server_error() => link_failed(&o, r.status, &r.message),
        Ok(o) => render::message(r.status, o.as_ref(), "Not linked", &r.message),
        Err(e) => render::api_error(None, e),
    }
}

#[derive(Serialize)]
struct UnlinkCtx<'a> {
    linked: &'a str,
}

/// `GET /dashboard/account/authentiq/unlink`: are you sure?
pub async fn confirm_unlink(owner: Owner) -> Response {
    let Some(linked) = owner.caller.account.authentiq_pk.as_deref() else {
        return Redirect::to("/dashboard/account").into_response();
    };
    render::page(
        StatusCode::OK,
        "account-unlink.html",
        Some(&owner),
        "account",
        &UnlinkCtx { linked },
    )
}

/// `POST /dashboard/account/authentiq/unlink` with `confirm=yes`.
pub async fn unlink(State(state): State<AppState>, posted: Posted) -> Response {
    let Posted { owner, form } = posted;
    if form.get("confirm") != Some("yes") {
        return render::message(
            StatusCode::BAD_REQUEST,
            Some(&owner),
            "Not unlinked",
            "Unlinking needs the confirmation: use the Unlink button on its confirmation page.",
        );
    }
    let mut changed = owner.caller.account.clone();
    changed.authentiq_pk = None;
    match state.db.call(move |s| s.update_account(&changed)).await {
        Ok(()) => Redirect::to("/dashboard/account?done=unlinked").into_response(),
        Err(e) => render::api_error(Some(&owner), e.into()),
    }
}
