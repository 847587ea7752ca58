#![no_main]
//! Compact JWS/JWT in `authentiq-protocol`: parsing, peeking at the kid,
//! verification with a fixed key and as a self-signed token, decoding the
//! claims into every payload type a client sends, and the time/audience
//! checks.
//!
//! Input: one control byte, then the body. The low two bits of the control
//! byte pick how the body becomes a token:
//! - 0: the body is the token (when it is UTF-8);
//! - 1: the body is `header JSON 0xFF payload bytes 0xFF signature bytes`,
//!   each part base64url-encoded and joined with dots (so mutations reach
//!   the JSON behind the base64 layer);
//! - 2: as 1, but signed with the fixed key (its Authentiq ID is [`pk`]),
//!   so mutations reach the claims behind the signature;
//! - 3: the body is a claims JSON checked against a `Validation` whose
//!   numbers come from the fuzzer (extreme times and leeways).
//!
//! Bit 2 makes modes 0 and 1 check signatures too (an Ed25519 verification
//! costs ~100 times a parse: leaving it out of most inputs is what keeps
//! this target near 10^4 executions per second; mode 2 always verifies). The
//! high bits tighten the `Validation` used in 0-2.
use authentiq_protocol::jws::{self, DEFAULT_MAX_LEN, Unverified};
use authentiq_protocol::jwt::{self, Claims, Registered, Validation};
use authentiq_protocol::payloads::{
    Binding, ChannelAuth, ClaimRequest, KeyUpdate, PushToken, Registration, ScopeGrant,
    SignInResponse,
};
use authentiq_protocol::{AuthentiqId, JwsError};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer, SigningKey};
use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use std::sync::LazyLock;

type Body = Map<String, Value>;

const NOW: i64 = 1_800_000_000;
const KID: &str = "issuer-1";
const AUD: &str = "https://rp.example/";

/// The fixed key: the "issuer" of mode 2 and, as its own ID, the self-signer.
static KEY: LazyLock<SigningKey> = LazyLock::new(|| SigningKey::from_bytes(&[1; 32]));
/// `iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w`: put it in a kid (and sub).
fn pk() -> String {
    AuthentiqId::from_verifying_key(KEY.verifying_key())
        .unwrap()
        .to_string()
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, body)) = data.split_first() else {
        return;
    };
    match control & 3 {
        0 => {
            if let Ok(token) = std::str::from_utf8(body) {
                check_token(token, control);
            }
        }
        3 => check_claims(body),
        mode => {
            let mut parts = body.splitn(3, |&b| b == 0xff);
            let header = parts.next().unwrap_or_default();
            let payload = parts.next().unwrap_or_default();
            let mut token = URL_SAFE_NO_PAD.encode(header);
            token.push('.');
            token.push_str(&URL_SAFE_NO_PAD.encode(payload));
            let signature = match mode {
                1 => parts.next().unwrap_or_default().to_vec(),
                _ => KEY.sign(token.as_bytes()).to_bytes().to_vec(),
            };
            token.push('.');
            token.push_str(&URL_SAFE_NO_PAD.encode(signature));
            check_token(&token, control);
        }
    }
});

fn validation(control: u8) -> Validation {
    let mut v = Validation::at(NOW);
    if control & 0x08 != 0 {
        v = v.jti_optional();
    }
    if control & 0x10 != 0 {
        v = v.exp_optional();
    }
    if control & 0x20 != 0 {
        v = v.audience(AUD);
    }
    if control & 0x40 != 0 {
        v = v.max_age(300).max_lifetime(600);
    }
    if control & 0x80 != 0 {
        v = v.typ("aq-event+jwt");
    }
    v
}

fn check_token(token: &str, control: u8) {
    let v = validation(control);
    let parsed = Unverified::parse(token, DEFAULT_MAX_LEN);
    assert_eq!(
        jwt::peek_kid(token, DEFAULT_MAX_LEN),
        parsed
            .as_ref()
            .map(|u| u.header.kid.clone())
            .map_err(Clone::clone)
    );
    let Ok(unverified) = parsed else {
        return;
    };
    assert!(matches!(
        unverified.header.alg.as_str(),
        jws::ALG | jws::ALG_ALIAS
    ));
    // Strict base64url: every segment has exactly one spelling.
    let segments: Vec<&str> = token.split('.').collect();
    assert_eq!(segments.len(), 3);
    for s in &segments {
        let bytes = URL_SAFE_NO_PAD.decode(s).unwrap();
        assert_eq!(&URL_SAFE_NO_PAD.encode(bytes), s);
    }
    let header = unverified.header.clone();
    let payload = unverified.unverified_payload().to_vec();
    assert_eq!(URL_SAFE_NO_PAD.decode(segments[1]).unwrap(), payload);
    decode_every_payload_type(&payload, &v);

    let signed = control & 3 == 2;
    if signed || control & 0x04 != 0 {
        check_signatures(token, signed, &v);
    }
    // Any header this parser accepted, written out again, is accepted again
    // (with `alg` as this crate writes it).
    let mut header = header;
    header.alg = jws::ALG.into();
    let rewritten = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap()),
        segments[1],
        URL_SAFE_NO_PAD.encode([0; 64])
    );
    let back = Unverified::parse(&rewritten, usize::MAX)
        .unwrap_or_else(|e| panic!("{header:?} written as {rewritten} fails: {e}"));
    assert_eq!(back.header, header);
}

/// `jwt::verify` with the fixed key and `jwt::verify_self_signed`. Each
/// refuses a kid it cannot use before the (costly) signature check, so at
/// most one of them verifies a signature.
fn check_signatures(token: &str, signed: bool, v: &Validation) {
    match jwt::verify::<Body>(token, &KEY.verifying_key(), Some(KID), v) {
        Ok(claims) => assert_valid(v, &claims.registered),
        // Mode 2 signed it with this very key.
        Err(JwsError::BadSignature) => assert!(!signed, "{token}"),
        Err(_) => {}
    }
    let Ok((id, claims)) = jwt::verify_self_signed::<Body>(token, v) else {
        return;
    };
    let kid = id.to_string();
    assert_eq!(claims.registered.sub.as_deref(), Some(kid.as_str()));
    assert!(claims.registered.iss.as_deref().is_none_or(|i| i == kid));
    assert_valid(v, &claims.registered);
    if kid != pk() {
        return;
    }
    // The claims signed again (as `jwt::sign_typed` writes them) decode to
    // the same registered claims, which pass the same checks. (Not the
    // body's values: serde_json's default float parsing may move a
    // re-printed float by one ulp.)
    let mut claims = claims;
    claims.registered.jti.get_or_insert_with(|| "j".into());
    let again = jwt::sign_typed(&claims, &KEY, &kid, &v.typ).unwrap();
    let parsed = Unverified::parse(&again, usize::MAX).unwrap();
    v.check_header(&parsed.header).unwrap();
    let back: Claims<Body> = serde_json::from_slice(parsed.unverified_payload())
        .unwrap_or_else(|e| panic!("{claims:?} signed as {again} does not decode: {e}"));
    assert_eq!(back.registered, claims.registered);
    assert!(back.body.keys().eq(claims.body.keys()));
    v.check(&back.registered).unwrap();
}

/// What a successful check promises about the registered claims.
fn assert_valid(v: &Validation, r: &Registered) {
    if v.require_exp {
        assert!(r.exp.is_some());
    }
    if let Some(exp) = r.exp {
        assert!(v.now < exp.saturating_add(v.leeway), "{r:?} {v:?}");
    }
    if let Some(nbf) = r.nbf {
        assert!(nbf <= v.now.saturating_add(v.leeway), "{r:?} {v:?}");
    }
    if let Some(iat) = r.iat {
        assert!(iat <= v.now.saturating_add(v.leeway), "{r:?} {v:?}");
    }
    if v.require_jti {
        assert!(r.jti.as_deref().is_some_and(|j| !j.is_empty()));
    }
    if let Some(max_age) = v.max_age {
        let iat = r.iat.unwrap();
        assert!(v.now.saturating_sub(iat) <= max_age.saturating_add(v.leeway));
    }
    if let Some(max) = v.max_lifetime {
        assert!(r.exp.unwrap().saturating_sub(r.iat.unwrap()) <= max);
    }
    if let Some(aud) = &v.audience {
        assert!(r.aud.as_ref().unwrap().contains(aud));
        assert!(r.aud.as_ref().unwrap().iter().any(|a| a == aud));
    }
}

/// The claims of every token type the server reads from clients (and the
/// generic map), decoded the way `jwt::verify*` decodes them, then checked.
fn decode_every_payload_type(payload: &[u8], v: &Validation) {
    fn one<T: serde::de::DeserializeOwned + serde::Serialize>(payload: &[u8], v: &Validation) {
        if let Ok(claims) = serde_json::from_slice::<Claims<T>>(payload) {
            if v.check(&claims.registered).is_ok() {
                assert_valid(v, &claims.registered);
            }
            // Serialized back, the claims decode again.
            let again = serde_json::to_vec(&claims).unwrap();
            let back = serde_json::from_slice::<Claims<T>>(&again).unwrap_or_else(|e| {
                panic!(
                    "{} does not decode again: {e}",
                    String::from_utf8_lossy(&again)
                )
            });
            assert_eq!(back.registered, claims.registered);
        }
    }
    one::<Body>(payload, v);
    one::<Registration>(payload, v);
    one::<Binding>(payload, v);
    one::<KeyUpdate>(payload, v);
    one::<PushToken>(payload, v);
    one::<ChannelAuth>(payload, v);
    one::<ScopeGrant>(payload, v);
    one::<SignInResponse>(payload, v);
    if let Ok(c) = serde_json::from_slice::<Claims<ClaimRequest>>(payload) {
        let _ = c.body.validate();
        let _ = c.body.subject_value();
        one::<ClaimRequest>(payload, v);
    }
}

/// Mode 3: `Validation` numbers from the fuzzer, then a claims JSON.
fn check_claims(body: &[u8]) {
    let mut u = Unstructured::new(body);
    let (Ok(now), Ok(leeway), Ok(flags), Ok(max_age), Ok(max_lifetime)) = (
        u.arbitrary::<i64>(),
        u.arbitrary::<i64>(),
        u.arbitrary::<u8>(),
        u.arbitrary::<i64>(),
        u.arbitrary::<i64>(),
    ) else {
        return;
    };
    let mut v = Validation::at(now);
    // The fields are public: a caller may set a negative leeway directly.
    v.leeway = leeway;
    v.require_exp = flags & 1 != 0;
    v.require_jti = flags & 2 != 0;
    v.max_age = (flags & 4 != 0).then_some(max_age);
    v.max_lifetime = (flags & 8 != 0).then_some(max_lifetime);
    v.audience = (flags & 16 != 0).then(|| AUD.to_string());
    let json = u.take_rest();
    if let Ok(r) = serde_json::from_slice::<Registered>(json)
        && v.check(&r).is_ok()
    {
        assert_valid(&v, &r);
    }
    decode_every_payload_type(json, &v);
}
