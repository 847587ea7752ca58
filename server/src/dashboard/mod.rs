//! The owners' dashboard at `/dashboard`: server-rendered pages for the
//! people who own clients and run the server, on the sign-in page's
//! layout, stylesheet and strict Content-Security-Policy.
//!
//! Owners sign in with their account's email and password (the accounts
//! API's check and login limits) or, once their account linked an
//! Authentiq ID, with it ([`authentiq`]: the dashboard is a relying party
//! of this very provider); the session is an account session in an
//! HttpOnly, SameSite=Strict cookie, so signing out, a password change, a
//! deactivation or deletion ends it at once. Every form carries a CSRF
//! token derived from the session ([`session`]); a post without the right
//! one is refused with 403. Clients are made, changed and deleted through
//! the client registration code ([`crate::oidc::registration::manage`]).
//!
//! Screens: [`sign_in`] (sign in, sign out), [`clients`] (my clients,
//! with their [`usage`]),
//! [`admin`] (accounts and all clients, admins only), [`events`] (the
//! security event log, admins only), [`status`] (server status, admins
//! only), [`account`]
//! (password, [`link`] an Authentiq ID, sign out everywhere). Rendering is in [`render`], form
//! bodies in [`form`], the stylesheet and script in [`assets`].

// The screens' helpers answer `Result<_, Response>`: the error is the page
// to show instead, built once per request, so its size does not matter.
#![allow(clippy::result_large_err)]

mod account;
mod admin;
mod assets;
pub mod authentiq;
mod client_view;
mod clients;
mod events;
mod form;
mod link;
mod render;
mod session;
mod sign_in;
mod status;
mod usage;

use axum::Router;
use axum::routing::{get, post};

use crate::AppState;

/// Where the dashboard lives.
pub const PREFIX: &str = "/dashboard";

/// The dashboard's route table.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dashboard", get(sign_in::show))
        .route("/dashboard/sign-in", post(sign_in::submit))
        .route("/dashboard/sign-out", post(sign_in::sign_out))
        .route("/dashboard/authentiq", get(sign_in::start_authentiq))
        .route(authentiq::CALLBACK, get(authentiq::callback))
        .route(
            "/dashboard/clients",
            get(clients::list).post(clients::create),
        )
        .route("/dashboard/clients/new", get(clients::new_form))
        .route(
            "/dashboard/clients/{id}",
            get(clients::show).post(clients::save),
        )
        .route("/dashboard/clients/{id}/rotate", post(clients::rotate))
        .route(
            "/dashboard/clients/{id}/delete",
            get(clients::confirm_delete).post(clients::delete),
        )
        .route("/dashboard/admin/accounts", get(admin::accounts))
        .route("/dashboard/admin/accounts/{id}/role", post(admin::set_role))
        .route(
            "/dashboard/admin/accounts/{id}/active",
            post(admin::set_active),
        )
        .route(
            "/dashboard/admin/accounts/{id}/delete",
            get(admin::confirm_delete).post(admin::delete),
        )
        .route("/dashboard/admin/clients", get(admin::clients))
        .route("/dashboard/admin/events", get(events::list))
        .route("/dashboard/admin/status", get(status::show))
        .route(
            "/dashboard/admin/status/rotate-keys",
            post(status::rotate_keys),
        )
        .route("/dashboard/account", get(account::show))
        .route("/dashboard/account/password", post(account::password))
        .route("/dashboard/account/authentiq", post(link::start))
        .route(
            "/dashboard/account/authentiq/unlink",
            get(link::confirm_unlink).post(link::unlink),
        )
        .route(
            "/dashboard/account/sign-out-everywhere",
            post(account::sign_out_everywhere),
        )
        .merge(assets::router())
}
