//! Admin pages: every account (its role to change, to deactivate or
//! reactivate, to delete after a confirmation) and every client.
//! Anyone else gets 403 on each page and action.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Serialize;

use super::client_view::ClientView;
use super::render;
use super::session::{Admin, Posted};
use crate::AppState;
use crate::accounts::Role;
use crate::oidc::clients;
use crate::oidc::registration::manage;
use crate::store::StoreError;

#[derive(Serialize)]
struct AccountRow {
    id: String,
    email: String,
    role: &'static str,
    active: bool,
    clients: usize,
    is_me: bool,
}

#[derive(Serialize)]
struct AccountsCtx {
    accounts: Vec<AccountRow>,
    roles: [&'static str; 3],
    notice: Option<&'static str>,
}

/// `GET /dashboard/admin/accounts`.
pub async fn accounts(State(state): State<AppState>, Admin(owner): Admin, uri: Uri) -> Response {
    let all = match state.db.call(|s| s.list_accounts()).await {
        Ok(a) => a,
        Err(e) => return render::api_error(Some(&owner), e.into()),
    };
    let stored = match clients::stored(&state, None).await {
        Ok(c) => c,
        Err(e) => return render::api_error(Some(&owner), e),
    };
    let mut owned: HashMap<&str, usize> = HashMap::new();
    for c in &stored {
        if let Some(o) = c.owner.as_deref() {
            *owned.entry(o).or_default() += 1;
        }
    }
    let accounts = all
        .iter()
        .map(|a| AccountRow {
            id: a.id.clone(),
            email: a.email.clone(),
            role: Role::parse(&a.role).unwrap_or(Role::Guest).as_str(),
            active: a.deactivated_at.is_none(),
            clients: owned.get(a.id.as_str()).copied().unwrap_or(0),
            is_me: a.id == owner.id(),
        })
        .collect();
    let notice = match crate::extract::form_value(uri.query().unwrap_or(""), "done").as_deref() {
        Some("role") => Some("The role was changed."),
        Some("activated") => Some("The account is active again."),
        Some("deleted") => Some("The account and its clients were deleted."),
        Some("deactivated") => {
            Some("The account is deactivated: its sessions ended and its clients are suspended.")
        }
        _ => None,
    };
    let ctx = AccountsCtx {
        accounts,
        roles: ["admin", "user", "guest"],
        notice,
    };
    render::page(
        StatusCode::OK,
        "admin-accounts.html",
        Some(&owner),
        "accounts",
        &ctx,
    )
}

/// `POST /dashboard/admin/accounts/{id}/role` with `role`.
pub async fn set_role(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<Admin>,
) -> Response {
    let Posted {
        owner: Admin(owner),
        form,
    } = posted;
    let Some(role) = form.get("role").and_then(Role::parse) else {
        return render::message(
            StatusCode::BAD_REQUEST,
            Some(&owner),
            "Not changed",
            "Choose a role: admin, user or guest.",
        );
    };
    let mut account = match state.db.read(move |s| s.get_account(&id)).await {
        Ok(a) => a,
        Err(StoreError::NotFound) => return render::not_found(&owner, "such account"),
        Err(e) => return render::api_error(Some(&owner), e.into()),
    };
    account.role = role.as_str().into();
    match crate::accounts::routes::save(&state, account).await {
        Ok(()) => Redirect::to("/dashboard/admin/accounts?done=role").into_response(),
        Err(e) => render::api_error(Some(&owner), e),
    }
}

/// `POST /dashboard/admin/accounts/{id}/active` with `active=yes|no`:
/// a deactivated account's sessions end and its clients stop working.
pub async fn set_active(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<Admin>,
) -> Response {
    let Posted {
        owner: Admin(owner),
        form,
    } = posted;
    let active = match form.get("active") {
        Some("yes") => true,
        Some("no") => false,
        _ => {
            return render::message(
                StatusCode::BAD_REQUEST,
                Some(&owner),
                "Not changed",
                "Say whether the account is to be active: yes or no.",
            );
        }
    };
    let account = match state.db.read(move |s| s.get_account(&id)).await {
        Ok(a) => a,
        Err(StoreError::NotFound) => return render::not_found(&owner, "such account"),
        Err(e) => return render::api_error(Some(&owner), e.into()),
    };
    match crate::accounts::routes::change_active(&state, account, active).await {
        Ok(_) if active => Redirect::to("/dashboard/admin/accounts?done=activated").into_response(),
        Ok(_) => Redirect::to("/dashboard/admin/accounts?done=deactivated").into_response(),
        Err(e) => render::api_error(Some(&owner), e),
    }
}

#[derive(Serialize)]
struct DeleteCtx {
    id: String,
    email: String,
    clients: usize,
    is_me: bool,
}

/// `GET /dashboard/admin/accounts/{id}/delete`: are you sure?
pub async fn confirm_delete(
    State(state): State<AppState>,
    Admin(owner): Admin,
    Path(id): Path<String>,
) -> Response {
    let owned = id.clone();
    let account = match state.db.read(move |s| s.get_account(&owned)).await {
        Ok(a) => a,
        Err(StoreError::NotFound) => return render::not_found(&owner, "such account"),
        Err(e) => return render::api_error(Some(&owner), e.into()),
    };
    let clients = match clients::stored(&state, Some(&id)).await {
        Ok(c) => c.len(),
        Err(e) => return render::api_error(Some(&owner), e),
    };
    let ctx = DeleteCtx {
        is_me: account.id == owner.id(),
        id: account.id,
        email: account.email,
        clients,
    };
    render::page(
        StatusCode::OK,
        "admin-account-delete.html",
        Some(&owner),
        "accounts",
        &ctx,
    )
}

/// `POST /dashboard/admin/accounts/{id}/delete` with `confirm=yes`: the
/// account, its sessions and its clients go (the last active admin stays).
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<Admin>,
) -> Response {
    let Posted {
        owner: Admin(owner),
        form,
    } = posted;
    if form.get("confirm") != Some("yes") {
        return render::message(
            StatusCode::BAD_REQUEST,
            Some(&owner),
            "Not deleted",
            "Deleting an account needs the confirmation: use the Delete button on its confirmation page.",
        );
    }
    let is_me = id == owner.id();
    match state.db.call(move |s| s.delete_account(&id)).await {
        Ok(()) if is_me => super::sign_in::signed_out(&state),
        Ok(()) => Redirect::to("/dashboard/admin/accounts?done=deleted").into_response(),
        Err(StoreError::NotFound) => render::not_found(&owner, "such account"),
        Err(StoreError::Conflict(_)) => render::message(
            StatusCode::CONFLICT,
            Some(&owner),
            "Not deleted",
            "This is the last active admin: make another admin first.",
        ),
        Err(e) => render::api_error(Some(&owner), e.into()),
    }
}

#[derive(Serialize)]
struct ClientsCtx {
    clients: Vec<ClientView>,
}

/// `GET /dashboard/admin/clients`: the configuration's and the stored ones.
pub async fn clients(State(state): State<AppState>, Admin(owner): Admin) -> Response {
    let (all, accounts) = match (
        clients::all(&state).await,
        state.db.call(|s| s.list_accounts()).await,
    ) {
        (Ok(c), Ok(a)) => (c, a),
        (Err(e), _) => return render::api_error(Some(&owner), e),
        (_, Err(e)) => return render::api_error(Some(&owner), e.into()),
    };
    let emails: HashMap<&str, &str> = accounts
        .iter()
        .map(|a| (a.id.as_str(), a.email.as_str()))
        .collect();
    let clients = all
        .iter()
        .map(|c| {
            let mut v = ClientView::of(c);
            v.from_config = manage::in_config(&state, &c.client_id);
            v.owner_email = c
                .owner
                .as_deref()
                .and_then(|o| emails.get(o))
                .map(|e| e.to_string());
            v
        })
        .collect();
    render::page(
        StatusCode::OK,
        "admin-clients.html",
        Some(&owner),
        "all-clients",
        &ClientsCtx { clients },
    )
}
