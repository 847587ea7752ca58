//! Request extractors whose rejections are [`ApiError`]s, so malformed
//! input gets the same error shape as everything else.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::{ApiError, AppState};

/// A compact JWT sent as the whole body (`application/jwt`).
#[derive(Debug)]
pub struct JwtBody(pub String);

/// The body as bytes, bounded by `limits.body_bytes`.
pub async fn body_bytes(req: Request, state: &AppState) -> Result<Bytes, ApiError> {
    let limit = state.config.limits.body_bytes;
    axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|_| ApiError::too_large(format!("the request body is over {limit} bytes")))
}

impl FromRequest<AppState> for JwtBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
            let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
            let essence = ct.split(';').next().unwrap_or("").trim();
            if !matches!(
                essence,
                "application/jwt" | "text/plain" | "application/octet-stream" | ""
            ) {
                return Err(ApiError::unsupported_media_type(format!(
                    "send the JWT as application/jwt, not {essence}"
                )));
            }
        }
        let bytes = body_bytes(req, state).await?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| ApiError::invalid_jwt("the body is not a compact JWT (not UTF-8)"))?
            .trim();
        if text.is_empty() {
            return Err(ApiError::invalid_jwt(
                "the body is empty; send a compact JWT",
            ));
        }
        let max = state.config.limits.jwt_bytes;
        if text.len() > max {
            return Err(ApiError::too_large(format!("the JWT is over {max} bytes")));
        }
        Ok(JwtBody(text.to_string()))
    }
}

/// Query parameters, with a 400 problem body when they don't parse.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let q = parts.uri.query().unwrap_or("");
        serde_urlencoded_from_str(q).map(Query)
    }
}

fn serde_urlencoded_from_str<T: DeserializeOwned>(q: &str) -> Result<T, ApiError> {
    axum::extract::Query::<T>::try_from_uri(
        &format!("/?{q}")
            .parse()
            .map_err(|_| ApiError::bad_request("the query string is malformed"))?,
    )
    .map(|axum::extract::Query(v)| v)
    .map_err(|e| ApiError::bad_request(e.body_text()))
}

/// The first value of `name` in a form-encoded string (a query or a body).
pub fn form_value(form: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(form.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A JSON body (`application/json`), with a 400 problem body when it is
/// not one or does not parse, and 415 for another content type.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let essence = ct.split(';').next().unwrap_or("").trim().to_string();
        if essence != "application/json" {
            return Err(ApiError::unsupported_media_type(
                "send the body as application/json",
            ));
        }
        let bytes = body_bytes(req, state).await?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::bad_request(format!("bad JSON: {e}")))
    }
}
