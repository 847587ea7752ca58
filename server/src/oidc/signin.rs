//! The sign-in session URI `/sign-in/{sid}`: the page (GET), the app's
//! signed answer (POST), "send to my device", live status, and continuing
//! to the client once approved.

use std::convert::Infallible;
use std::time::Duration;

use authentiq_protocol::jwt::{self, Claims};
use authentiq_protocol::payloads::{
    ClaimScope, ClientInfo, Decision, DeviceEvent, PushToken, Requester, SignInRequest,
    SignInResponse,
};
use authentiq_protocol::scope::{Scope, ScopeName};
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::Stream;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::authorize::error_page;
use super::clients::{self, Client};
use super::cookies;
use super::page::{self, ClaimView, MessageKind, SignInView, StatusEvent};
use super::records::{self, SESSION, SSO};
use super::response;
use super::session::{SessionData, SsoData, Status};
use crate::extract::JwtBody;
use crate::hub::Topic;
use crate::security::pushes::may_push;
use crate::security::{self, ClientIp, Kind, Subject};
use crate::store::Record;
use crate::{ApiError, AppState};

pub const SSO_COOKIE: &str = "aq_sso";
/// How long the SSO session lasts.
pub const SSO_TTL: i64 = 12 * 3600;
/// How long a remembered device's push token cookie lasts.
pub const PUSH_COOKIE_TTL: i64 = 90 * 24 * 3600;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/authorize",
            get(super::authorize::get).post(super::authorize::post),
        )
        .route(
            "/sign-in",
            get(super::authorize::get).post(super::authorize::post),
        )
        .route("/sign-in/{sid}", get(show).post(answer))
        .route("/sign-in/{sid}/push", post(send_to_device))
        .route("/sign-in/{sid}/continue", get(continue_to_client))
}

/// The live status stream is not bounded by the request timeout.
pub fn streaming_router() -> Router<AppState> {
    Router::new().route("/sign-in/{sid}/events", get(events))
}

/// The page for an unknown or expired sign-in session.
fn expired_page() -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        "Sign-in expired",
        "This sign-in link is not valid or has expired. Go back to the application and try again.",
    )
}

/// The page for a session whose client has since been removed.
fn unknown_client_page() -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        "Unknown application",
        "The application of this sign-in is no longer registered.",
    )
}

/// The page for a failure of ours (logged where it happened): never
/// dressed up as an expired sign-in.
fn failure_page() -> Response {
    error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "The server could not complete this step. Try again in a moment.",
    )
}

/// The session, or the page to show instead: expired, or a failure.
async fn load_or_page(state: &AppState, sid: &str) -> Result<(SessionData, Record), Response> {
    match load(state, sid).await {
        Ok(Some(found)) => Ok(found),
        Ok(None) => Err(expired_page()),
        Err(_) => Err(failure_page()),
    }
}

/// The session's client, or the page to show instead.
async fn client_or_page(state: &AppState, client_id: &str) -> Result<Client, Response> {
    match clients::find(state, client_id).await {
        Ok(Some(c)) => Ok(c),
        Ok(None) => Err(unknown_client_page()),
        Err(_) => Err(failure_page()),
    }
}

pub fn binding_cookie_name(sid: &str) -> String {
    format!("aq_b_{sid}")
}

pub fn push_cookie_name(client_id: &str) -> String {
    let h = Sha256::digest(client_id.as_bytes());
    format!(
        "aq_push_{}",
        h[..6]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

fn session_uri(state: &AppState, sid: &str) -> String {
    format!("{}/sign-in/{sid}", state.config.base_url())
}

/// The audience of push tokens the provider keeps for remembered devices.
pub fn push_audience(state: &AppState) -> String {
    format!("{}/sign-in", state.config.base_url())
}

fn secure(state: &AppState) -> bool {
    state.config.base_url().starts_with("https:")
}

async fn load(state: &AppState, sid: &str) -> Result<Option<(SessionData, Record)>, ApiError> {
    if sid.len() != 20 {
        return Ok(None);
    }
    records::get::<SessionData>(state, SESSION, sid).await
}

/// The request pushed to a device, or fetched by scanning the QR code.
fn sign_in_request(
    state: &AppState,
    client: &Client,
    sid: &str,
    data: &SessionData,
) -> SignInRequest {
    SignInRequest {
        session: session_uri(state, sid),
        nonce: data.push_nonce.clone(),
        client: ClientInfo {
            client_id: client.client_id.clone(),
            name: client.name.clone(),
            uri: client.client_uri.clone(),
            logo_uri: client.logo_uri.clone(),
        },
        scope: data.request.scope.clone(),
        requester: Requester {
            ip: data.ip.clone(),
            user_agent: data.user_agent.clone(),
        },
        numbers: data.numbers,
    }
}

/// Pushes the sign-in request to `pk`'s devices, if the push gate lets it
/// (key live, not blocked, under the rate).
pub async fn push(
    state: &AppState,
    client: &Client,
    sid: &str,
    data: &SessionData,
    pk: &str,
) -> Result<(), ApiError> {
    may_push(state, pk, &data.ip).await?;
    let ttl = (data.expires_at - state.now()).max(1);
    let event = DeviceEvent::SignIn(sign_in_request(state, client, sid, data));
    state.emit(pk, event, ttl).await.map(|_| ())
}

/// The key behind a remembered device's push token, if it is still good.
pub async fn remembered_key(state: &AppState, token: &str) -> Result<String, ApiError> {
    let v = state
        .validation()
        .jti_optional()
        .audience(push_audience(state));
    let (id, _) = jwt::verify_self_signed::<PushToken>(token, &v)?;
    let pk = id.to_string();
    state.active_key(&pk).await?;
    Ok(pk)
}

fn claim_label(name: &ScopeName) -> &'static str {
    match name {
        ScopeName::Email => "Email address",
        ScopeName::Phone => "Phone number",
        ScopeName::Profile => "Profile (name, username, locale)",
        ScopeName::Address => "Address",
        ScopeName::AqName => "Name",
        ScopeName::AqLocation => "Location",
        ScopeName::AqUsername => "Username",
        ScopeName::AqLocale => "Language",
        ScopeName::AqZoneinfo => "Time zone",
        ScopeName::AqPush => "Remember this browser for one-tap sign-in",
        ScopeName::OfflineAccess => "Stay signed in (offline access)",
        ScopeName::OpenId | ScopeName::Unknown(_) => "Your Authentiq ID",
    }
}

/// GET: the page, or (for the app, `Accept: application/jwt`) the signed request.
async fn show(
    State(state): State<AppState>,
    Path(sid): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (data, _) = match load_or_page(&state, &sid).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let client = match client_or_page(&state, &data.request.client_id).await {
        Ok(c) => c,
        Err(page) => return page,
    };
    let wants_jwt = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/jwt"));
    if wants_jwt {
        let ttl = (data.expires_at - state.now()).max(1);
        let claims = Claims::new(DeviceEvent::SignIn(sign_in_request(
            &state, &client, &sid, &data,
        )))
        .issuer(state.config.base_url())
        .valid_for(state.now(), ttl);
        return match jwt::sign_typed(
            &claims,
            state.issuer.signing_key(),
            state.issuer.active_kid(),
            DeviceEvent::TYP,
        ) {
            Ok(t) => ([(header::CONTENT_TYPE, "application/jwt")], t).into_response(),
            Err(_) => ApiError::internal("cannot sign").into_response(),
        };
    }
    if data.status != Status::Pending {
        return status_page(data.status);
    }
    render_page(&state, &client, &sid, &data)
}

fn status_page(status: Status) -> Response {
    let (title, msg, kind) = match status {
        Status::Denied => (
            "Sign-in denied",
            "The sign-in was denied on your device.",
            MessageKind::Denied,
        ),
        Status::Approved => (
            "Signed in",
            "The sign-in was approved. You can close this page.",
            MessageKind::Info,
        ),
        Status::Pending => ("Waiting", "Waiting for your device.", MessageKind::Info),
    };
    let mut res = Html(page::render_message(title, msg, kind)).into_response();
    page::security_headers(res.headers_mut());
    res
}

fn render_page(state: &AppState, client: &Client, sid: &str, data: &SessionData) -> Response {
    let scope: Scope = data.request.scope.parse().unwrap_or_default();
    let claims = scope
        .items()
        .iter()
        .filter(|i| i.name != ScopeName::OpenId)
        .map(|i| ClaimView {
            name: i.name.to_string(),
            label: claim_label(&i.name).to_string(),
            required: i.required,
            verified: i.signed,
        })
        .collect();
    let uri = session_uri(state, sid);
    let deep_link = format!(
        "authentiq://sign-in?session={}",
        url::form_urlencoded::byte_serialize(uri.as_bytes()).collect::<String>()
    );
    let view = SignInView {
        session_uri: uri,
        deep_link,
        client_name: client.name.clone(),
        client_uri: client.client_uri.clone(),
        logo_uri: client.logo_uri.clone(),
        claims,
        number: data.shown,
        events_url: format!("/sign-in/{sid}/events"),
        push_url: format!("/sign-in/{sid}/push"),
        csrf: data.csrf.clone(),
        pushed: data.pushed,
        expires_at: data.expires_at,
    };
    match page::render_sign_in(&view, state.now()) {
        Ok(html) => {
            let mut res = Html(html).into_response();
            page::security_headers(res.headers_mut());
            res
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot render the sign-in page");
            ApiError::internal("cannot render the page").into_response()
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct PushForm {
    pub email: String,
    pub csrf: String,
}

/// "Send to my device": push to the key that verified and bound this email.
async fn send_to_device(
    State(state): State<AppState>,
    Path(sid): Path<String>,
    Form(form): Form<PushForm>,
) -> Response {
    let (mut data, _) = match load_or_page(&state, &sid).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    if !bool::from(data.csrf.as_bytes().ct_eq(form.csrf.as_bytes())) {
        return error_page(
            StatusCode::FORBIDDEN,
            "Invalid request",
            "The form was not sent from this sign-in page.",
        );
    }
    let client = match client_or_page(&state, &data.request.client_id).await {
        Ok(c) => c,
        Err(page) => return page,
    };
    if let Some(email) = crate::secrets::normalize_email(&form.email) {
        let hash = state.hasher.hash("email", &email);
        let found = state.db.call(move |s| s.find_key_by_email(&hash)).await;
        if let Ok(key) = found
            && push(&state, &client, &sid, &data, &key.pk).await.is_ok()
        {
            data.pushed = true;
            // Only the flag: an answer may already have arrived meanwhile.
            let _ = records::modify(&state, SESSION, &sid, |d: &mut SessionData| {
                d.pushed = true;
                Ok(())
            })
            .await;
        }
    }
    // The same answer whether or not the address is known: no enumeration.
    let mut shown = data.clone();
    shown.pushed = true;
    render_page(&state, &client, &sid, &shown)
}

/// POST from the app: its signed [`SignInResponse`].
async fn answer(
    State(state): State<AppState>,
    Path(sid): Path<String>,
    JwtBody(token): JwtBody,
) -> Result<Json<Value>, ApiError> {
    let uri = session_uri(&state, &sid);
    let v = state.action_validation().audience(uri);
    let (id, claims) = state.verify_action::<SignInResponse>(&token, &v).await?;
    let pk = id.to_string();
    let Some((data, _)) = load(&state, &sid).await? else {
        return Err(ApiError::not_found(
            "no such sign-in session, or it expired",
        ));
    };
    state.active_key(&pk).await?;
    let body = claims.body;
    if !bool::from(body.nonce.as_bytes().ct_eq(data.push_nonce.as_bytes())) {
        return Err(ApiError::auth_error(
            "the nonce does not match this sign-in",
        ));
    }
    let pending = |d: &SessionData| {
        if d.status == Status::Pending {
            Ok(())
        } else {
            Err(ApiError::conflict("this sign-in was already answered"))
        }
    };
    pending(&data)?;
    let who = Subject {
        pk: Some(&pk),
        client_id: Some(&data.request.client_id),
        ip: Some(&data.ip),
    };
    if body.decision == Decision::Deny {
        records::modify(&state, SESSION, &sid, |d: &mut SessionData| {
            pending(d)?;
            d.status = Status::Denied;
            d.pk = Some(pk.clone());
            d.reported = body.report;
            Ok(())
        })
        .await?;
        // A report blocks pushes to this key from this address for an hour.
        let kind = if body.report {
            Kind::SignInReported
        } else {
            Kind::SignInDenied
        };
        security::record(&state, kind, who, None).await?;
        return Ok(Json(json!({ "status": "denied" })));
    }
    if body.number != Some(data.shown) {
        // A wrong number denies the request and counts against the key:
        // too many in an hour, and pushes to it are refused.
        records::modify(&state, SESSION, &sid, |d: &mut SessionData| {
            pending(d)?;
            d.status = Status::Denied;
            d.wrong_numbers += 1;
            d.pk = Some(pk.clone());
            Ok(())
        })
        .await?;
        security::record(&state, Kind::WrongNumber, who, None).await?;
        return Err(ApiError {
            status: StatusCode::FORBIDDEN,
            kind: "wrong-number",
            title: "Wrong number",
            detail: "the number does not match the one on the sign-in page; the sign-in is denied"
                .into(),
            retry_after: None,
        });
    }
    let requested: Scope = data.request.scope.parse().unwrap_or_default();
    let offered: Scope = body
        .scope
        .parse()
        .map_err(|e| ApiError::bad_request(format!("scope: {e}")))?;
    let (claims_out, granted) = collect_claims(&state, &pk, &requested, &offered, &body)?;
    let mut push_token = None;
    if requested.contains(&ScopeName::AqPush)
        && let Some(t) = &body.push_token
    {
        let v = state
            .validation()
            .jti_optional()
            .audience(push_audience(&state));
        let (tid, _) = jwt::verify_self_signed::<PushToken>(t, &v)?;
        if tid != id {
            return Err(ApiError::auth_error("the push token is for another key"));
        }
        push_token = Some(t.clone());
    }
    let now = state.now();
    records::modify(&state, SESSION, &sid, |d: &mut SessionData| {
        pending(d)?;
        d.status = Status::Approved;
        d.pk = Some(pk.clone());
        d.claims = claims_out.clone();
        d.granted_scope = granted.clone();
        d.auth_time = Some(now);
        d.push_token = push_token.clone();
        Ok(())
    })
    .await?;
    security::record(&state, Kind::SignInApproved, who, None).await?;
    Ok(Json(json!({ "status": "approved" })))
}

/// Checks required and verified scopes and builds the claims to release.
fn collect_claims(
    state: &AppState,
    pk: &str,
    requested: &Scope,
    offered: &Scope,
    body: &SignInResponse,
) -> Result<(Map<String, Value>, String), ApiError> {
    // Verified values from the issuer grants the app attached.
    let mut verified: Map<String, Value> = Map::new();
    for g in &body.grants {
        let (record, value) = crate::routes::key::verify_grant(state, g, pk)?;
        let name = if record.scope == ClaimScope::Email.as_str() {
            "email"
        } else {
            "phone_number"
        };
        verified.insert(name.into(), json!(value));
    }
    let mut out = Map::new();
    let mut granted = vec!["openid".to_string()];
    for item in requested.items() {
        if item.name == ScopeName::OpenId {
            continue;
        }
        let shared = offered.contains(&item.name);
        if !shared {
            if item.required {
                return Err(ApiError::bad_request(format!(
                    "the scope {} is required",
                    item.name
                )));
            }
            continue;
        }
        let names: &[&str] = match item.name {
            ScopeName::Email => &["email"],
            ScopeName::Phone => &["phone_number"],
            ScopeName::Profile => &[
                "name",
                "given_name",
                "family_name",
                "preferred_username",
                "locale",
                "zoneinfo",
                "picture",
            ],
            ScopeName::Address | ScopeName::AqLocation => &["address"],
            ScopeName::AqName => &["name", "given_name", "family_name"],
            ScopeName::AqUsername => &["preferred_username"],
            ScopeName::AqLocale => &["locale"],
            ScopeName::AqZoneinfo => &["zoneinfo"],
            _ => &[],
        };
        for &n in names {
            let (value, is_verified) = match verified.get(n) {
                Some(v) => (Some(v.clone()), true),
                None => (body.claims.get(n).cloned(), false),
            };
            if item.signed && !is_verified && matches!(n, "email" | "phone_number") {
                return Err(ApiError::bad_request(format!(
                    "the scope {} must be verified: attach the issuer's grant",
                    item.name
                )));
            }
            if let Some(v) = value {
                out.insert(n.into(), v);
                match n {
                    "email" => {
                        out.insert("email_verified".into(), json!(is_verified));
                    }
                    "phone_number" => {
                        out.insert("phone_number_verified".into(), json!(is_verified));
                    }
                    _ => {}
                }
            }
        }
        granted.push(item.name.to_string());
    }
    Ok((out, granted.join(" ")))
}

/// Live status for the page, as Server-Sent Events; at most
/// `limits.event_streams_per_ip` open per client address.
async fn events(
    State(state): State<AppState>,
    Path(sid): Path<String>,
    ip: ClientIp,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let max = state.config.limits.event_streams_per_ip;
    let Some(slot) = state.streams.acquire(&ip.to_string(), max) else {
        return Err(ApiError::rate_limited(
            5,
            format!("at most {max} sign-in status streams per address"),
        ));
    };
    let stream = async_stream::stream! {
        let _slot = slot;
        // Watch before reading: a change after the read wakes the next one.
        let mut watch = state.hub.watch(Topic::Session(sid.clone()));
        let mut last: Option<&'static str> = None;
        loop {
            let (status, cont, expires_at) = match load(&state, &sid).await {
                Ok(Some((d, _))) => match d.status {
                    Status::Pending => ("pending", None, d.expires_at),
                    Status::Approved => ("approved", Some(format!("/sign-in/{sid}/continue")), 0),
                    Status::Denied => ("denied", Some(format!("/sign-in/{sid}/continue")), 0),
                },
                Ok(None) => ("expired", None, 0),
                Err(_) => ("error", None, 0),
            };
            if last != Some(status) {
                let message = match status {
                    "denied" => Some("The sign-in was denied on your device.".to_string()),
                    "expired" => Some("This sign-in request expired. Go back and try again.".to_string()),
                    "error" => Some("Something went wrong on the server. Reload the page to try again.".to_string()),
                    _ => None,
                };
                let ev = StatusEvent { status, continue_url: cont, message };
                if let Ok(data) = serde_json::to_string(&ev) {
                    yield Ok(Event::default().event("status").data(data));
                }
                last = Some(status);
            }
            if status != "pending" {
                break;
            }
            // Wake on this session's change, or when it expires.
            let left = u64::try_from(expires_at - state.now()).unwrap_or(0) + 1;
            let _ = tokio::time::timeout(Duration::from_secs(left), watch.changed()).await;
        }
    };
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// Once approved (or denied), the browser that started the sign-in goes on
/// to the client: with a code and/or tokens, or with `access_denied`.
async fn continue_to_client(
    State(state): State<AppState>,
    Path(sid): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (data, _) = match load_or_page(&state, &sid).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let bound = cookies::get(&headers, &binding_cookie_name(&sid)).is_some_and(|b| {
        bool::from(
            records::token_id(&b)
                .as_bytes()
                .ct_eq(data.browser.as_bytes()),
        )
    });
    if !bound {
        return error_page(
            StatusCode::FORBIDDEN,
            "Wrong browser",
            "This sign-in was started in another browser. Continue there, or start again here.",
        );
    }
    let req = &data.request;
    match data.status {
        Status::Pending => {
            return (
                StatusCode::SEE_OTHER,
                [(header::LOCATION, format!("/sign-in/{sid}"))],
            )
                .into_response();
        }
        Status::Denied => {
            return response::redirect_error(
                &state,
                &req.redirect_uri,
                req.response_mode,
                req.state.as_deref(),
                authentiq_protocol::errors::OAuthErrorCode::AccessDenied,
                "the user denied the sign-in",
            );
        }
        Status::Approved => {}
    }
    // Exactly once: the session record is spent here.
    let (data, _) = match records::take::<SessionData>(&state, SESSION, &sid).await {
        Ok(records::Taken::Fresh(d, r)) => (d, r),
        Ok(_) => {
            return error_page(
                StatusCode::CONFLICT,
                "Already used",
                "This sign-in was already completed. Go back to the application.",
            );
        }
        Err(_) => return failure_page(),
    };
    let client = match client_or_page(&state, &data.request.client_id).await {
        Ok(c) => c,
        Err(page) => return page,
    };
    let (Some(pk), Some(auth_time)) = (data.pk.clone(), data.auth_time) else {
        tracing::error!(sid = %sid, "an approved session has no key");
        return failure_page();
    };
    // The SSO session of this browser.
    let sso_token = records::new_token();
    let sso_id = records::token_id(&sso_token);
    let sso = SsoData {
        pk: pk.clone(),
        auth_time,
        claims: data.claims.clone(),
        granted_scope: data.granted_scope.clone(),
    };
    let stored = match records::new(
        SSO,
        &sso_id,
        &sso_id,
        Some(&pk),
        &sso,
        state.now() + SSO_TTL,
    ) {
        Ok(r) => records::put(&state, r).await,
        Err(e) => Err(e),
    };
    if stored.is_err() {
        return failure_page();
    }
    let outcome = match response::complete(
        &state,
        &client,
        &data.request,
        &pk,
        &data.claims,
        &data.granted_scope,
        auth_time,
        &sso_id,
    )
    .await
    {
        Ok(o) => o,
        Err(e) if e.status == StatusCode::GONE => {
            return error_page(
                StatusCode::FORBIDDEN,
                "Authentiq ID revoked",
                "The Authentiq ID that approved this sign-in was revoked. Go back to the application and sign in again.",
            );
        }
        Err(_) => return failure_page(),
    };
    let mut res = outcome.response;
    let h = res.headers_mut();
    let sec = secure(&state);
    for c in [
        cookies::set(SSO_COOKIE, &sso_token, "/", SSO_TTL, sec),
        cookies::set(
            &binding_cookie_name(&sid),
            "",
            &format!("/sign-in/{sid}"),
            0,
            sec,
        ),
        data.push_token.as_deref().and_then(|t| {
            cookies::set(
                &push_cookie_name(&client.client_id),
                t,
                "/",
                PUSH_COOKIE_TTL,
                sec,
            )
        }),
    ]
    .into_iter()
    .flatten()
    {
        h.append(header::SET_COOKIE, c);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}
