//! The security event log for admins, newest first, filtered by client,
//! key (an Authentiq ID), kind or address.

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use serde::Serialize;

use super::render;
use super::session::Admin;
use super::usage::{label, moment};
use crate::AppState;
use crate::security::events::Kind as EventKind;
use crate::store::EventFilter;

/// Events shown at most.
const SHOWN: u32 = 200;
#[derive(Serialize)]
struct Row {
    at: String,
    what: &'static str,
    kind: String,
    client: String,
    key: String,
    ip: String,
    detail: String,
}

#[derive(Serialize)]
struct Kind {
    value: &'static str,
    label: &'static str,
}

#[derive(Serialize)]
struct EventsCtx {
    rows: Vec<Row>,
    kinds: Vec<Kind>,
    client: String,
    key: String,
    kind: String,
    ip: String,
    shown: u32,
}

/// A filter value from the query: trimmed, bounded, empty for none.
fn param(uri: &Uri, name: &str) -> String {
    crate::extract::form_value(uri.query().unwrap_or(""), name)
        .unwrap_or_default()
        .trim()
        .chars()
        .take(200)
        .collect()
}

fn some(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// `GET /dashboard/admin/events[?client=&key=&kind=&ip=]`.
pub async fn list(State(state): State<AppState>, Admin(owner): Admin, uri: Uri) -> Response {
    let (client, key, kind, ip) = (
        param(&uri, "client"),
        param(&uri, "key"),
        param(&uri, "kind"),
        param(&uri, "ip"),
    );
    // An unknown kind matches nothing: it is dropped rather than searched.
    let kind = if EventKind::parse(&kind).is_some() {
        kind
    } else {
        String::new()
    };
    let filter = EventFilter {
        client_id: some(&client),
        pk: some(&key),
        kind: some(&kind),
        ip: some(&ip),
        since: None,
    };
    let events = match state
        .db
        .call(move |s| s.list_security_events(&filter, SHOWN))
        .await
    {
        Ok(e) => e,
        Err(e) => return render::api_error(Some(&owner), e.into()),
    };
    let rows = events
        .into_iter()
        .map(|e| Row {
            at: moment(e.at),
            what: label(&e.kind),
            kind: e.kind,
            client: e.client_id.unwrap_or_default(),
            key: e.pk.unwrap_or_default(),
            ip: e.ip.unwrap_or_default(),
            detail: e.detail.unwrap_or_default(),
        })
        .collect();
    let ctx = EventsCtx {
        rows,
        kinds: EventKind::ALL
            .iter()
            .map(|k| Kind {
                value: k.as_str(),
                label: k.label(),
            })
            .collect(),
        client,
        key,
        kind,
        ip,
        shown: SHOWN,
    };
    render::page(
        StatusCode::OK,
        "admin-events.html",
        Some(&owner),
        "events",
        &ctx,
    )
}
