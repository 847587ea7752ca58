//! The device authorization grant (RFC 8628). A device without a browser
//! (a TV, a CLI) asks `POST /device_authorization` for a device code and a
//! short user code; the user enters the code at `/device` in a browser,
//! which starts an ordinary number-matched sign-in session there; the
//! device polls `/token` ([`super::polling`]) until the user answered.
//!
//! User codes are 8 letters from an alphabet without vowels or look-alikes
//! (RFC 8628 §6.1: 20^8 ≈ 2^34.6), stored hashed, used once, and guesses
//! are counted per address.

use authentiq_protocol::errors::OAuthErrorCode;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use subtle::ConstantTimeEq;

use super::authorize::{self, validate::openid_scope};
use super::client_auth::{Form, authenticate};
use super::error::OAuthErr;
use super::page::{self, failure_page};
use super::polling::{self, PolledGrant};
use super::records::{self, Taken};
use super::session::{AuthRequest, GrantLink, ResponseMode};
use super::{clients, cookies, signin};
use crate::security::ClientIp;
use crate::store::StoreError;
use crate::{ApiError, AppState};

pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";
pub const KIND: &str = "device";
/// The record of a user code (id: the hash of its normalized form).
const USER_CODE: &str = "user-code";
/// How long the codes are good for.
pub const EXPIRES_IN: i64 = 600;
const ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
const CODE_LEN: usize = 8;

#[derive(Debug, Serialize, Deserialize)]
struct UserCode {
    /// The device code's record id.
    device: String,
}

/// A new user code: 8 letters, shown as `XXXX-XXXX`.
fn new_user_code() -> String {
    // 20 divides 240: bytes below 240 map to letters without bias.
    let mut out = String::with_capacity(CODE_LEN);
    while out.len() < CODE_LEN {
        for b in crate::secrets::random_bytes::<16>() {
            if b < 240 && out.len() < CODE_LEN {
                out.push(ALPHABET[usize::from(b % 20)] as char);
            }
        }
    }
    out
}

/// What the user typed, as stored: letters of the alphabet only, upper
/// case (dashes, spaces and case do not matter); `None` if it cannot be a code.
pub fn normalize_user_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == CODE_LEN && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

fn display(code: &str) -> String {
    format!("{}-{}", &code[..4], &code[4..])
}

/// `POST /device_authorization` (RFC 8628 §3.1).
pub async fn device_authorization(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let r = async {
        let form = Form::parse(&headers, &body)?;
        let client = authenticate(&state, &headers, &form).await?;
        if !client.allows_grant_type(GRANT_TYPE) {
            return Err(OAuthErr::new(
                OAuthErrorCode::UnauthorizedClient,
                format!("this client may not use grant_type {GRANT_TYPE}"),
            ));
        }
        let scope = form.get("scope").unwrap_or("openid");
        openid_scope(scope).map_err(|why| OAuthErr::new(OAuthErrorCode::InvalidScope, why))?;
        let now = state.now();
        let device_code = records::new_token();
        let id = records::token_id(&device_code);
        let grant = PolledGrant::new(&client.client_id, scope, now, EXPIRES_IN);
        let until = grant.expires_at + polling::GRACE;
        records::put(&state, records::new(KIND, &id, &id, None, &grant, until)?).await?;
        // A fresh user code (a clash with a live one is drawn again).
        let mut user_code = None;
        for _ in 0..4 {
            let code = new_user_code();
            let data = UserCode { device: id.clone() };
            let record = records::new(
                USER_CODE,
                &records::token_id(&code),
                &id,
                None,
                &data,
                now + EXPIRES_IN,
            )?;
            match state.db.call(move |s| s.put_record(&record)).await {
                Ok(()) => {
                    user_code = Some(code);
                    break;
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(ApiError::from(e).into()),
            }
        }
        let code = user_code.ok_or_else(|| ApiError::internal("no free user code"))?;
        let base = state.config.base_url();
        Ok(json!({
            "device_code": device_code,
            "user_code": display(&code),
            "verification_uri": format!("{base}/device"),
            "verification_uri_complete": format!("{base}/device?user_code={}", display(&code)),
            "expires_in": EXPIRES_IN,
            "interval": polling::INTERVAL,
        }))
    }
    .await;
    super::error::json_answer(StatusCode::OK, r)
}

/// `GET /device[?user_code=]`: the form, filled in from the
/// `verification_uri_complete` (the user still confirms it).
pub async fn show(State(state): State<AppState>, uri: Uri) -> Response {
    let code = uri
        .query()
        .and_then(|q| crate::extract::form_value(q, "user_code"))
        .unwrap_or_default();
    let code: String = code.chars().take(16).collect();
    form_page(&state, StatusCode::OK, &code, None)
}

fn form_page(state: &AppState, status: StatusCode, code: &str, error: Option<&str>) -> Response {
    let csrf = crate::secrets::new_secret();
    let mut res = (status, Html(page::render_device(code, &csrf, error))).into_response();
    page::security_headers(res.headers_mut());
    if let Some(c) = cookies::set(
        cookies::DEVICE_CSRF,
        &csrf,
        "/device",
        600,
        signin::secure(state),
    ) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

/// `POST /device`: the code the user entered. A good one starts the
/// sign-in in this browser.
pub async fn enter(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let field = |name: &str| {
        std::str::from_utf8(&body)
            .ok()
            .and_then(|b| crate::extract::form_value(b, name))
    };
    let typed: String = field("user_code")
        .unwrap_or_default()
        .chars()
        .take(16)
        .collect();
    let csrf_ok = match (cookies::get(&headers, cookies::DEVICE_CSRF), field("csrf")) {
        (Some(c), Some(f)) => bool::from(c.as_bytes().ct_eq(f.as_bytes())),
        _ => false,
    };
    if !csrf_ok {
        let why = "The form expired. Enter the code again.";
        return form_page(&state, StatusCode::FORBIDDEN, &typed, Some(why));
    }
    // Every guess counts, right or wrong.
    if let Err(e) = state
        .rate_limit(
            format!("device-ip:{ip}"),
            state.config.rate.device_codes_per_ip_per_minute,
            60,
            "device codes entered from this address",
        )
        .await
    {
        let mut res = form_page(
            &state,
            e.status,
            &typed,
            Some("Too many codes were entered from here. Wait a minute and try again."),
        );
        if let Some(secs) = e.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        return res;
    }
    let wrong = |state: &AppState| {
        form_page(
            state,
            StatusCode::BAD_REQUEST,
            &typed,
            Some("That code is not valid, or it expired. Check the device and try again."),
        )
    };
    let Some(code) = normalize_user_code(&typed) else {
        return wrong(&state);
    };
    let taken = match records::take::<UserCode>(&state, USER_CODE, &records::token_id(&code)).await
    {
        Ok(t) => t,
        Err(_) => return failure_page(),
    };
    let device = match taken {
        Taken::Fresh(u, _) => u.device,
        Taken::Reused { .. } => {
            let why = "That code was already used. Start again on the device to get a new one.";
            return form_page(&state, StatusCode::CONFLICT, &typed, Some(why));
        }
        Taken::Missing => return wrong(&state),
    };
    match start(&state, &ip, &headers, &device).await {
        Ok(res) => res,
        Err(e) if e.status == StatusCode::TOO_MANY_REQUESTS => form_page(
            &state,
            e.status,
            &typed,
            Some("Too many sign-ins from here. Wait a minute and try again."),
        ),
        Err(e) if e.status.is_client_error() => wrong(&state),
        Err(_) => failure_page(),
    }
}

/// The sign-in for device grant `device`, in this browser.
async fn start(
    state: &AppState,
    ip: &ClientIp,
    headers: &HeaderMap,
    device: &str,
) -> Result<Response, ApiError> {
    let Some((grant, _)) = records::get::<PolledGrant>(state, KIND, device).await? else {
        return Err(ApiError::not_found("the device code expired"));
    };
    if state.now() >= grant.expires_at {
        return Err(ApiError::not_found("the device code expired"));
    }
    let client = clients::find(state, &grant.client_id)
        .await?
        .ok_or_else(|| ApiError::not_found("the client is gone"))?;
    let sid = crate::secrets::new_job_id();
    polling::attach_session(state, KIND, device, &sid).await?;
    let request = AuthRequest {
        client_id: client.client_id.clone(),
        redirect_uri: String::new(),
        response_type: "device_code".into(),
        response_mode: ResponseMode::Query,
        scope: grant.scope.clone(),
        state: None,
        nonce: None,
        code_challenge: None,
        max_age: None,
        dpop_jkt: None,
    };
    let link = Some(GrantLink::Device {
        id: device.to_string(),
    });
    authorize::begin(state, &client, &sid, request, ip, headers, link).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_use_the_alphabet_and_normalize() {
        for _ in 0..200 {
            let c = new_user_code();
            assert_eq!(c.len(), CODE_LEN);
            assert!(c.bytes().all(|b| ALPHABET.contains(&b)), "{c}");
            let shown = display(&c);
            assert_eq!(shown.len(), 9);
            assert_eq!(normalize_user_code(&shown).as_deref(), Some(c.as_str()));
            assert_eq!(
                normalize_user_code(&shown.to_lowercase()).as_deref(),
                Some(c.as_str())
            );
        }
        assert_eq!(
            normalize_user_code("BCDF GHJK").as_deref(),
            Some("BCDFGHJK")
        );
        // Vowels and digits are never in a code.
        assert_eq!(normalize_user_code("ABCD-EFGH"), None);
        assert_eq!(normalize_user_code("BCDF-GHJ1"), None);
        assert_eq!(normalize_user_code("BCDF-GHJ"), None);
        assert_eq!(normalize_user_code("BCDF-GHJKL"), None);
        assert_eq!(normalize_user_code(""), None);
    }

    #[test]
    fn user_codes_are_not_biased() {
        let mut counts = [0u32; 20];
        for _ in 0..2000 {
            for b in new_user_code().bytes() {
                if let Some(i) = ALPHABET.iter().position(|&a| a == b) {
                    counts[i] += 1;
                }
            }
        }
        // 16,000 letters: 800 expected per letter.
        assert!(
            counts.iter().all(|&n| (600..1000).contains(&n)),
            "{counts:?}"
        );
    }
}
