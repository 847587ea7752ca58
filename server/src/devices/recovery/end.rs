//! How a recovery ends: cancelled from a device of the ID, or completed
//! by the new device once the delay is over.

use super::*;

/// Cancel a recovery from a device of the ID: `JWT(sub, aud, jti)`,
/// `aud` = `<recovery>/cancel`.
#[utoipa::path(post, path = "/recovery/{RID}/cancel", tag = "key", operation_id = "recovery_cancel",
    params(("RID" = String, Path, description = "The recovery id")),
    request_body(content = String, content_type = "application/jwt", description = "Signed by a device of the ID"),
    responses(
        (status = 200, description = "`cancelled`", body = RecoveryBody),
        (status = 400, description = "Malformed JWT", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Not signed by a device of this ID, expired or replayed `auth-error`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Unknown or expired `not-found`, or unknown key", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "Completed or failed already `conflict`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 410, description = "The signing device was removed `revoked-key`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn cancel(
    State(state): State<AppState>,
    Path(rid): Path<String>,
    ip: ClientIp,
    JwtBody(token): JwtBody,
) -> Result<Json<RecoveryBody>, ApiError> {
    let base = url(&state, &rid);
    let v = state.action_validation().audience(format!("{base}/cancel"));
    let signed = state
        .verify_signed_action::<RecoveryAction>(&token, &v)
        .await?;
    let id_pk = signed.id.to_string();
    if load(&state, &rid).await?.id_pk != id_pk {
        return Err(ApiError::auth_error(
            "only a device of the ID being recovered may cancel",
        ));
    }
    let r = records::modify(&state, RECOVERY, &rid, |r: &mut Recovery| {
        match r.stage {
            Stage::Codes | Stage::Waiting => r.stage = Stage::Cancelled,
            Stage::Cancelled => {}
            other => {
                return Err(ApiError::conflict(format!(
                    "this recovery is {}",
                    other.name()
                )));
            }
        }
        Ok(r.clone())
    })
    .await?;
    state.withdraw(&id_pk, &base, "cancelled").await?;
    log(
        &state,
        Kind::RecoveryCancelled,
        &id_pk,
        &ip.to_string(),
        format!("{} by {}", r.device_pk, signed.device),
    )
    .await?;
    Ok(body(&state, &rid, &r))
}

/// Complete a recovery once its delay is over: `JWT(sub, aud, jti)`
/// self-signed by the new key, `aud` = `<recovery>/complete`. The new key
/// becomes the ID's only device and gets a new recovery secret.
#[utoipa::path(post, path = "/recovery/{RID}/complete", tag = "key", operation_id = "recovery_complete",
    params(("RID" = String, Path, description = "The recovery id")),
    request_body(content = String, content_type = "application/jwt", description = "Self-signed by the new key"),
    responses(
        (status = 200, description = "`completed`, with the new recovery secret", body = RecoveryBody),
        (status = 400, description = "Malformed JWT", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Another key, expired or replayed `auth-error`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Unknown or expired `not-found`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "Cancelled, not confirmed, or still waiting `conflict`; the key was registered meanwhile `duplicate-key`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 410, description = "The ID was revoked `revoked-key`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn complete(
    State(state): State<AppState>,
    Path(rid): Path<String>,
    ip: ClientIp,
    JwtBody(token): JwtBody,
) -> Result<Json<RecoveryBody>, ApiError> {
    let base = url(&state, &rid);
    let (device, _) =
        new_device_token::<RecoveryAction>(&state, &token, format!("{base}/complete")).await?;
    new_key_only(&device, &load(&state, &rid).await?)?;
    let now = state.now();
    // Decided once, against a cancellation arriving at the same moment.
    let r = records::modify(&state, RECOVERY, &rid, |r: &mut Recovery| {
        match (r.stage, r.completes_at) {
            (Stage::Waiting, Some(at)) if now >= at => {
                r.stage = Stage::Completed;
                Ok(r.clone())
            }
            (Stage::Waiting, at) => Err(ApiError::conflict(format!(
                "the recovery completes at {}; any device of the ID may cancel it until then",
                at.unwrap_or_default()
            ))),
            (stage, _) => Err(ApiError::conflict(format!(
                "this recovery is {}",
                stage.name()
            ))),
        }
    })
    .await?;
    let secret = secrets::new_secret();
    let new = DeviceRecord {
        pk: r.device_pk.clone(),
        id_pk: r.id_pk.clone(),
        name: r.name.clone(),
        added_at: now,
        last_used_at: None,
        revoked_at: None,
    };
    let hash = secrets::hash_secret(&secret);
    let old = match state
        .db
        .call(move |s| s.recover_identity(&new, &hash, now))
        .await
    {
        Ok(old) => old,
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::duplicate_key(
                "the new key was registered meanwhile",
            ));
        }
        Err(StoreError::NotFound) => {
            return Err(ApiError::revoked_key("this Authentiq ID was revoked"));
        }
        Err(e) => return Err(e.into()),
    };
    removed(&state, &r.id_pk, &old).await?;
    state.withdraw(&r.id_pk, &base, "completed").await?;
    log(
        &state,
        Kind::RecoveryCompleted,
        &r.id_pk,
        &ip.to_string(),
        format!("{} replaces {} device(s)", r.device_pk, old.len()),
    )
    .await?;
    let mut out = body(&state, &rid, &r);
    out.secret = Some(secret);
    Ok(out)
}
