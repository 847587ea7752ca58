//! POST `/sign-in/{sid}`: the app's signed answer — checked (signature,
//! key, nonce, number, required and verified claims), recorded in the
//! security event log, and stored in the session.

use authentiq_protocol::payloads::{ClaimScope, Decision, PushToken, SignInResponse};
use authentiq_protocol::scope::{Scope, ScopeName};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Map, Value, json};
use subtle::ConstantTimeEq;

use super::{load, push_audience, session_uri};
use crate::extract::JwtBody;
use crate::metrics::Outcome;
use crate::oidc::records::{self, SESSION};
use crate::oidc::session::{GrantLink, SessionData, Status};
use crate::security::{self, Kind, Subject};
use crate::store::Write;
use crate::{ApiError, AppState};

/// POST from the app: its signed [`SignInResponse`].
pub(super) async fn answer(
    State(state): State<AppState>,
    Path(sid): Path<String>,
    JwtBody(token): JwtBody,
) -> Result<Json<Value>, ApiError> {
    let outcome = decide(&state, &sid, &token).await;
    // The answer was taken (approved, denied, or denied for a wrong
    // number): an SDK operation's result is ready for its backend.
    let decided = match &outcome {
        Ok(_) => true,
        Err(e) => e.kind == "wrong-number",
    };
    if decided && let Some((data, _)) = load(&state, &sid).await? {
        // Every device of the identity was pushed the request: the others
        // close it (the first answer won).
        if let Some(pk) = &data.pk {
            let outcome = if data.status == Status::Approved {
                "approved"
            } else {
                "denied"
            };
            state
                .withdraw_sign_in(pk, &session_uri(&state, &sid), outcome)
                .await?;
        }
        if !data.purpose.is_sign_in() {
            crate::oidc::sdk::result::finished(&state, &sid, &data).await?;
        }
        if let Some(GrantLink::Ciba { id }) = &data.link {
            crate::oidc::ciba::answered(&state, id).await?;
        }
    }
    outcome
}

async fn decide(state: &AppState, sid: &str, token: &str) -> Result<Json<Value>, ApiError> {
    let (state, sid, token) = (state.clone(), sid.to_string(), token.to_string());
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
    if data.expected_pk.as_deref().is_some_and(|want| want != pk) {
        return Err(ApiError::auth_error(
            "this request is for another Authentiq ID",
        ));
    }
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
    // Each answer is stored with its security event, in one write.
    let logged = |kind| {
        [Write::SecurityEvent(security::event(
            &state, kind, &who, None,
        ))]
    };
    if body.decision == Decision::Deny {
        // A report blocks pushes to this key from this address for an hour.
        let kind = if body.report {
            Kind::SignInReported
        } else {
            Kind::SignInDenied
        };
        let change = |d: &mut SessionData| {
            pending(d)?;
            d.status = Status::Denied;
            d.pk = Some(pk.clone());
            d.reported = body.report;
            Ok(())
        };
        records::modify_with(&state, SESSION, &sid, change, &logged(kind)).await?;
        security::trace(kind, &who);
        state.metrics.sign_in(&data, Outcome::Denied);
        return Ok(Json(json!({ "status": "denied" })));
    }
    // Number matching, unless no browser shows a number (CIBA).
    if !data.is_backchannel() && body.number != Some(data.shown) {
        // A wrong number denies the request and counts against the key:
        // too many in an hour, and pushes to it are refused.
        let change = |d: &mut SessionData| {
            pending(d)?;
            d.status = Status::Denied;
            d.wrong_numbers += 1;
            d.pk = Some(pk.clone());
            Ok(())
        };
        let kind = Kind::WrongNumber;
        records::modify_with(&state, SESSION, &sid, change, &logged(kind)).await?;
        security::trace(kind, &who);
        state.metrics.sign_in(&data, Outcome::Denied);
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
        let tid = state.verify_signed::<PushToken>(t, &v).await?.id;
        if tid != id {
            return Err(ApiError::auth_error("the push token is for another key"));
        }
        push_token = Some(t.clone());
    }
    let now = state.now();
    let change = |d: &mut SessionData| {
        pending(d)?;
        d.status = Status::Approved;
        d.pk = Some(pk.clone());
        d.claims = claims_out.clone();
        d.granted_scope = granted.clone();
        d.auth_time = Some(now);
        d.push_token = push_token.clone();
        Ok(())
    };
    let kind = Kind::SignInApproved;
    records::modify_with(&state, SESSION, &sid, change, &logged(kind)).await?;
    security::trace(kind, &who);
    state.metrics.sign_in(&data, Outcome::Approved);
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
