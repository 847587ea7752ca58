//! The new device's steps: start a recovery with the recovery secret
//! (codes go to the ID's verified email and phone), then confirm it with
//! the codes; it then waits out the delay.

use super::*;

/// Start recovering an ID on a new device: `JWT(sub, aud, jti, id, name,
/// email, phone?)` self-signed by the new key, `aud` = `<server>/recovery`,
/// and the recovery secret as `Authorization: Bearer`. Sends the codes.
#[utoipa::path(post, path = "/recovery", tag = "key", operation_id = "recovery_start",
    params(("Authorization" = String, Header, description = "`Bearer <recovery secret>`")),
    request_body(content = String, content_type = "application/jwt", description = "Self-signed by the new key: `id`, `name`, `email` (and `phone` when the ID has one bound)"),
    responses(
        (status = 201, description = "Codes sent `codes-sent`", body = RecoveryBody),
        (status = 400, description = "Malformed JWT, email or phone", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No or a wrong secret; a wrong email or phone; bad signature, expired or replayed `auth-error`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Unknown ID `unknown-key`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "The new key is registered `duplicate-key`; the ID has no verified email `confirm-first`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 410, description = "The ID is revoked `revoked-key`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts for this ID `rate-limit`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    ip: ClientIp,
    JwtBody(token): JwtBody,
) -> Result<(StatusCode, Json<RecoveryBody>), ApiError> {
    let secret = bearer(&headers)?;
    let aud = format!("{}/recovery", state.config.base_url());
    let v = state.action_validation().audience(aud.clone());
    // Checked before anything is spent or counted.
    let (_, claims, _) = state.verify_unspent::<RecoveryStart>(&token, &v)?;
    let RecoveryStart {
        id,
        name,
        email,
        phone,
    } = claims.body;
    let name = device_name(&name)?;
    let id_pk = crate::routes::key::parse_pk(&id)?.to_string();
    let key = state.active_key(&id_pk).await?;
    let d = &state.config.devices;
    // Counted before the secret is compared, atomically.
    state
        .rate_limit(
            format!("recovery:{id_pk}"),
            d.attempts_per_id,
            d.attempt_window_secs,
            "recovery attempts",
        )
        .await?;
    let (device, _) = new_device_token::<RecoveryStart>(&state, &token, aud).await?;
    let device_pk = device.to_string();
    fresh_key(&state, &device_pk).await?;
    let ip = ip.to_string();
    if !secrets::verify_secret(&secret, &key.secret_hash) {
        log(
            &state,
            Kind::RecoveryStarted,
            &id_pk,
            &ip,
            "refused: wrong recovery secret".into(),
        )
        .await?;
        return Err(ApiError::auth_error("wrong recovery secret"));
    }
    if key.email_hash.is_none() {
        return Err(ApiError::confirm_first(
            "this ID has no verified email: it cannot be recovered (revoke it instead)",
        ));
    }
    let email =
        normalize_email(&email).ok_or_else(|| ApiError::bad_request("not a valid email"))?;
    if !same_hash(
        key.email_hash.as_deref(),
        &state.hasher.hash("email", &email),
    ) {
        return Err(ApiError::auth_error("not the email this ID verified"));
    }
    let phone = match (&key.phone_hash, phone) {
        (None, _) => None,
        (Some(_), None) => {
            return Err(ApiError::bad_request(
                "this ID has a phone bound: give it too",
            ));
        }
        (Some(bound), Some(p)) => {
            let p = normalize_phone(&p)
                .ok_or_else(|| ApiError::bad_request("not a valid phone number"))?;
            if !same_hash(Some(bound), &state.hasher.hash("phone", &p)) {
                return Err(ApiError::auth_error("not the phone this ID verified"));
            }
            Some(p)
        }
    };
    let rid = records::new_token();
    let email_code = secrets::new_code();
    let phone_code = phone.as_ref().map(|_| secrets::new_code());
    let recovery = Recovery {
        id_pk: id_pk.clone(),
        device_pk: device_pk.clone(),
        name,
        email_code: state.hasher.hash(&code_domain(&rid, "email"), &email_code),
        phone_code: phone_code
            .as_ref()
            .map(|c| state.hasher.hash(&code_domain(&rid, "phone"), c)),
        attempts: 0,
        stage: Stage::Codes,
        completes_at: None,
        requester: crate::routes::login::requester(&headers, &ip),
    };
    // Lives as long as it may wait, and goes with the ID if it is revoked.
    let expires_at = state.now() + CODE_TTL + d.recovery_delay_secs + 24 * 3600;
    let record = records::new(RECOVERY, &rid, &rid, Some(&id_pk), &recovery, expires_at)?;
    records::put(&state, record).await?;
    let what = "recover your Authentiq ID on a new device";
    crate::routes::scope::send_code(&state, Channel::Email, &email, &email_code, what, false)
        .await?;
    if let (Some(p), Some(c)) = (&phone, &phone_code) {
        crate::routes::scope::send_code(&state, Channel::Sms, p, c, what, false).await?;
    }
    log(
        &state,
        Kind::RecoveryStarted,
        &id_pk,
        &ip,
        format!("{device_pk}: codes sent"),
    )
    .await?;
    Ok((StatusCode::CREATED, body(&state, &rid, &recovery)))
}

/// Give the codes: `JWT(sub, aud, jti, email_code, phone_code?)` self-signed
/// by the new key, `aud` = `<recovery>/confirm`. Announces the recovery to
/// the ID's devices; it completes after the delay.
#[utoipa::path(post, path = "/recovery/{RID}/confirm", tag = "key", operation_id = "recovery_confirm",
    params(("RID" = String, Path, description = "The recovery id")),
    request_body(content = String, content_type = "application/jwt", description = "Self-signed by the new key: `email_code`, `phone_code`"),
    responses(
        (status = 200, description = "`waiting` until `completes_at`", body = RecoveryBody),
        (status = 400, description = "Malformed JWT", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Wrong code, another key, expired or replayed `auth-error`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Unknown or expired `not-found`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "Not waiting for codes (cancelled, failed, confirmed) `conflict`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn confirm(
    State(state): State<AppState>,
    Path(rid): Path<String>,
    ip: ClientIp,
    JwtBody(token): JwtBody,
) -> Result<Json<RecoveryBody>, ApiError> {
    let base = url(&state, &rid);
    let (device, codes) =
        new_device_token::<RecoveryConfirm>(&state, &token, format!("{base}/confirm")).await?;
    new_key_only(&device, &load(&state, &rid).await?)?;
    let (max, now, delay) = (
        state.config.rate.code_attempts,
        state.now(),
        state.config.devices.recovery_delay_secs,
    );
    let hasher = &state.hasher;
    // The attempt is counted and the codes compared in one compare-and-swap.
    let (right, r) = records::modify(&state, RECOVERY, &rid, |r: &mut Recovery| {
        if r.stage != Stage::Codes {
            return Err(ApiError::conflict(format!(
                "this recovery is {}, not waiting for codes",
                r.stage.name()
            )));
        }
        r.attempts += 1;
        let email_ok = hasher.verify(
            &code_domain(&rid, "email"),
            codes.email_code.trim(),
            &r.email_code,
        );
        let phone_ok = match (&r.phone_code, &codes.phone_code) {
            (None, _) => true,
            (Some(h), Some(c)) => hasher.verify(&code_domain(&rid, "phone"), c.trim(), h),
            (Some(_), None) => false,
        };
        let right = email_ok && phone_ok;
        if right {
            r.stage = Stage::Waiting;
            r.completes_at = Some(now + delay);
        } else if r.attempts >= max {
            r.stage = Stage::Failed;
        }
        Ok((right, r.clone()))
    })
    .await?;
    let ip = ip.to_string();
    if !right {
        if r.stage == Stage::Failed {
            log(
                &state,
                Kind::CodeLimitReached,
                &r.id_pk,
                &ip,
                "recovery codes".into(),
            )
            .await?;
            return Err(ApiError::auth_error(
                "wrong code; too many attempts, start again",
            ));
        }
        return Err(ApiError::auth_error("wrong code"));
    }
    let completes_at = r.completes_at.unwrap_or(now + delay);
    let event = DeviceEvent::RecoveryStarted(RecoveryStarted {
        recovery: base,
        device: r.device_pk.clone(),
        name: r.name.clone(),
        requester: r.requester.clone(),
        completes_at,
    });
    state
        .emit(&r.id_pk, event, delay.max(crate::state::EVENT_TTL))
        .await?;
    log(
        &state,
        Kind::RecoveryStarted,
        &r.id_pk,
        &ip,
        format!("{}: announced, completes at {completes_at}", r.device_pk),
    )
    .await?;
    Ok(body(&state, &rid, &r))
}
