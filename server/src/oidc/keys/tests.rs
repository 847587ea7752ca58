use std::time::Instant;

use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};

use super::stored::*;
use super::*;

const T0: i64 = 1_700_000_000;
const SECRET: &[u8] = b"a client secret of at least 32 bytes, surely";

fn setup(now: i64) -> (tempfile::TempDir, IssuerKeys, OidcKeys) {
    let dir = tempfile::tempdir().unwrap();
    let issuer = IssuerKeys::load_or_create(&Vault::for_tests(dir.path()), now).unwrap();
    let started = Instant::now();
    let keys = OidcKeys::load_or_create(&Vault::for_tests(dir.path()), &issuer, now).unwrap();
    eprintln!("RS256 + ES256 key generation: {:?}", started.elapsed());
    (dir, issuer, keys)
}

fn claims(now: i64) -> Value {
    json!({"iss": "https://id.example", "sub": "someone", "aud": "client",
           "iat": now, "exp": now + 600, "nonce": "n-0S6_WzA2Mj"})
}

fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect()
}

fn kids_of(jwks: &Value, alg: &str) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["alg"] == alg)
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect()
}

fn header_of(token: &str) -> Value {
    let h = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap()
}

/// `token` with its header replaced by `header` (signature kept).
fn with_header(token: &str, header: &Value) -> String {
    let mut parts = token.splitn(2, '.');
    parts.next();
    let rest = parts.next().unwrap();
    format!("{}.{rest}", b64(header.to_string().as_bytes()))
}

#[test]
fn first_start_generates_and_later_starts_reload() {
    let (dir, issuer, a) = setup(T0);
    let b = OidcKeys::load_or_create(&Vault::for_tests(dir.path()), &issuer, T0 + 5).unwrap();
    assert_eq!(kids(&a.jwks(T0)), kids(&b.jwks(T0 + 5)));
    assert_eq!(kids(&a.jwks(T0)).len(), 3, "RS256, ES256 and EdDSA");
    for alg in [IdTokenAlg::RS256, IdTokenAlg::ES256, IdTokenAlg::EdDSA] {
        assert_eq!(a.signing_kid(alg, T0), b.signing_kid(alg, T0 + 5));
        assert!(a.signing_kid(alg, T0).is_some());
    }
    // EdDSA is the issuer key, not a second Ed25519 key.
    assert_eq!(
        a.signing_kid(IdTokenAlg::EdDSA, T0),
        Some(issuer.active_kid())
    );
    assert_eq!(a.signing_kid(IdTokenAlg::HS256, T0), None);
    // A token signed before the restart verifies after it.
    let token = a.sign(IdTokenAlg::RS256, &claims(T0), None, T0).unwrap();
    b.verify(&token, None, T0 + 5).unwrap();
}

#[test]
fn signs_and_verifies_with_each_algorithm() {
    let (_dir, _, keys) = setup(T0);
    for alg in IdTokenAlg::ALL {
        let secret = (alg == IdTokenAlg::HS256).then_some(SECRET);
        let token = keys.sign(alg, &claims(T0), secret, T0).unwrap();
        let header = header_of(&token);
        assert_eq!(header["alg"], alg.as_str());
        assert_eq!(header["typ"], "JWT");
        if alg == IdTokenAlg::HS256 {
            assert!(header.get("kid").is_none(), "{header}");
        } else {
            assert_eq!(header["kid"], keys.signing_kid(alg, T0).unwrap());
        }
        let got = keys.verify(&token, secret, T0 + 1).unwrap();
        assert_eq!(got, claims(T0), "{alg}");
    }
}

#[test]
fn published_keys_verify_tokens_on_their_own() {
    let (_dir, _, keys) = setup(T0);
    let jwks = keys.jwks(T0);
    for alg in [IdTokenAlg::RS256, IdTokenAlg::ES256, IdTokenAlg::EdDSA] {
        let token = keys.sign(alg, &claims(T0), None, T0).unwrap();
        let kid = header_of(&token)["kid"].as_str().unwrap().to_string();
        let jwk_json = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == kid.as_str())
            .unwrap();
        assert_eq!(jwk_json["use"], "sig");
        assert_eq!(jwk_json["alg"], alg.as_str());
        assert!(jwk_json.get("d").is_none(), "no private parts");
        let jwk: Jwk = serde_json::from_value(jwk_json.clone()).unwrap();
        // The kid is the RFC 7638 thumbprint, as jsonwebtoken computes it.
        assert_eq!(jwk.thumbprint(ThumbprintHash::SHA256).unwrap(), kid);
        let key = DecodingKey::from_jwk(&jwk).unwrap();
        let mut v = Validation::new(alg.jwt());
        v.set_audience(&["client"]);
        // jsonwebtoken checks `exp` against the real clock.
        v.validate_exp = false;
        let data = jsonwebtoken::decode::<Value>(&token, &key, &v).unwrap();
        assert_eq!(data.claims["sub"], "someone");
    }
    let by_kty = |kty: &str| {
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k["kty"] == kty)
            .count()
    };
    // The issuer key comes first, where older clients look for it.
    assert_eq!(jwks["keys"][0]["kty"], "OKP");
    assert_eq!(by_kty("RSA"), 1);
    assert_eq!(by_kty("EC"), 1);
    assert_eq!(by_kty("OKP"), 1);
    let ec = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kty"] == "EC")
        .unwrap();
    assert_eq!(ec["crv"], "P-256");
    assert_eq!(
        URL_SAFE_NO_PAD
            .decode(ec["x"].as_str().unwrap())
            .unwrap()
            .len(),
        32
    );
    let rsa = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kty"] == "RSA")
        .unwrap();
    assert_eq!(rsa["e"], "AQAB");
    assert_eq!(
        URL_SAFE_NO_PAD
            .decode(rsa["n"].as_str().unwrap())
            .unwrap()
            .len(),
        RSA_BITS / 8
    );
}

#[test]
fn refuses_forged_and_stale_tokens() {
    let (_dir, _, keys) = setup(T0);
    let rs = keys.sign(IdTokenAlg::RS256, &claims(T0), None, T0).unwrap();
    let es = keys.sign(IdTokenAlg::ES256, &claims(T0), None, T0).unwrap();
    let rs_kid = keys.signing_kid(IdTokenAlg::RS256, T0).unwrap();
    let es_kid = keys.signing_kid(IdTokenAlg::ES256, T0).unwrap();

    // A changed payload.
    let parts: Vec<&str> = rs.split('.').collect();
    let mut forged_claims = claims(T0);
    forged_claims["sub"] = json!("someone else");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64(forged_claims.to_string().as_bytes()),
        parts[2]
    );
    assert!(matches!(
        keys.verify(&forged, None, T0),
        Err(TokenError::BadSignature)
    ));
    // A changed signature.
    let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    sig[0] ^= 1;
    let forged = format!("{}.{}.{}", parts[0], parts[1], b64(&sig));
    assert!(matches!(
        keys.verify(&forged, None, T0),
        Err(TokenError::BadSignature)
    ));

    // The header's algorithm must be its key's.
    let wrong = with_header(&rs, &json!({"alg": "ES256", "kid": rs_kid, "typ": "JWT"}));
    assert!(matches!(
        keys.verify(&wrong, None, T0),
        Err(TokenError::AlgorithmMismatch)
    ));
    let wrong = with_header(&es, &json!({"alg": "RS256", "kid": es_kid, "typ": "JWT"}));
    assert!(matches!(
        keys.verify(&wrong, None, T0),
        Err(TokenError::AlgorithmMismatch)
    ));
    // A known algorithm this provider does not use.
    let wrong = with_header(&rs, &json!({"alg": "PS256", "kid": rs_kid}));
    assert!(matches!(
        keys.verify(&wrong, None, T0),
        Err(TokenError::UnsupportedAlg)
    ));
    // `none`, with or without a signature.
    let none = format!("{}.{}.", b64(br#"{"alg":"none","typ":"JWT"}"#), parts[1]);
    assert!(matches!(
        keys.verify(&none, None, T0),
        Err(TokenError::UnsupportedAlg)
    ));
    let none = with_header(&rs, &json!({"alg": "none", "kid": rs_kid}));
    assert!(matches!(
        keys.verify(&none, None, T0),
        Err(TokenError::UnsupportedAlg)
    ));
    // HS256 keyed with the public key (algorithm confusion) needs a
    // client secret, and the secret decides.
    let jwks = keys.jwks(T0);
    let rsa = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kty"] == "RSA");
    let n = rsa.unwrap()["n"].as_str().unwrap().to_string();
    let confused = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims(T0),
        &EncodingKey::from_secret(n.as_bytes()),
    )
    .unwrap();
    assert!(matches!(
        keys.verify(&confused, None, T0),
        Err(TokenError::MissingSecret(IdTokenAlg::HS256))
    ));
    assert!(matches!(
        keys.verify(&confused, Some(SECRET), T0),
        Err(TokenError::BadSignature)
    ));
    let hs = keys
        .sign(IdTokenAlg::HS256, &claims(T0), Some(SECRET), T0)
        .unwrap();
    assert!(matches!(
        keys.verify(&hs, Some(b"another client secret of 32 bytes or more"), T0),
        Err(TokenError::BadSignature)
    ));
    assert!(matches!(
        keys.sign(IdTokenAlg::HS256, &claims(T0), Some(b"short"), T0),
        Err(TokenError::WeakSecret)
    ));
    assert!(matches!(
        keys.sign(IdTokenAlg::HS256, &claims(T0), None, T0),
        Err(TokenError::MissingSecret(_))
    ));

    // Unknown or missing key ids.
    let wrong = with_header(&rs, &json!({"alg": "RS256", "kid": "nope"}));
    assert!(matches!(
        keys.verify(&wrong, None, T0),
        Err(TokenError::UnknownKey)
    ));
    let wrong = with_header(&rs, &json!({"alg": "RS256"}));
    assert!(matches!(
        keys.verify(&wrong, None, T0),
        Err(TokenError::MissingKid)
    ));

    // Time: `exp` is required and checked with the leeway; so is `nbf`.
    let late = T0 + 600 + VERIFY_LEEWAY;
    keys.verify(&rs, None, late).unwrap();
    assert!(matches!(
        keys.verify(&rs, None, late + 1),
        Err(TokenError::Expired)
    ));
    let no_exp = keys
        .sign(IdTokenAlg::ES256, &json!({"sub": "x"}), None, T0)
        .unwrap();
    assert!(matches!(
        keys.verify(&no_exp, None, T0),
        Err(TokenError::MissingExp)
    ));
    let future = keys
        .sign(
            IdTokenAlg::EdDSA,
            &json!({"exp": T0 + 9000, "nbf": T0 + 600}),
            None,
            T0,
        )
        .unwrap();
    assert!(matches!(
        keys.verify(&future, None, T0),
        Err(TokenError::NotYetValid)
    ));
    keys.verify(&future, None, T0 + 600).unwrap();

    // Not JWTs at all.
    for junk in [
        "",
        "abc",
        "a.b",
        "a.b.c",
        "..",
        &"x".repeat(MAX_TOKEN_BYTES + 1),
    ] {
        assert!(keys.verify(junk, None, T0).is_err(), "{junk:.20}");
    }
    assert!(matches!(
        keys.sign(IdTokenAlg::RS256, &json!("not an object"), None, T0),
        Err(TokenError::ClaimsNotObject)
    ));
}

#[test]
fn rotation_publishes_first_signs_later_and_retires_old_keys() {
    let (dir, issuer, _) = setup(T0);
    let before = OidcKeys::load_or_create(&Vault::for_tests(dir.path()), &issuer, T0).unwrap();
    let old_rs = before
        .signing_kid(IdTokenAlg::RS256, T0)
        .unwrap()
        .to_string();
    let old_es = before
        .signing_kid(IdTokenAlg::ES256, T0)
        .unwrap()
        .to_string();

    let rotated_at = T0 + 100;
    let ahead = 3600;
    let started = Instant::now();
    let new = OidcKeys::rotate(&Vault::for_tests(dir.path()), rotated_at, ahead).unwrap();
    eprintln!(
        "rotation (RS256 + ES256 generation): {:?}",
        started.elapsed()
    );
    assert_eq!(new.len(), 2);
    let new_rs = new
        .iter()
        .find(|(a, _)| *a == IdTokenAlg::RS256)
        .unwrap()
        .1
        .clone();
    let new_es = new
        .iter()
        .find(|(a, _)| *a == IdTokenAlg::ES256)
        .unwrap()
        .1
        .clone();
    assert_ne!(new_rs, old_rs);
    assert_ne!(new_es, old_es);

    // The server restarts right after the rotation.
    let keys =
        OidcKeys::load_or_create(&Vault::for_tests(dir.path()), &issuer, rotated_at + 1).unwrap();
    let switch = rotated_at + ahead;

    // Published at once, but the old keys still sign.
    let t = rotated_at + 1;
    let published = kids(&keys.jwks(t));
    for kid in [&old_rs, &new_rs, &old_es, &new_es] {
        assert!(published.contains(kid), "{kid} published");
    }
    assert_eq!(published.len(), 5);
    assert_eq!(
        keys.signing_kid(IdTokenAlg::RS256, t),
        Some(old_rs.as_str())
    );
    assert_eq!(
        keys.signing_kid(IdTokenAlg::ES256, t),
        Some(old_es.as_str())
    );
    assert_eq!(
        keys.signing_kid(IdTokenAlg::RS256, switch - 1),
        Some(old_rs.as_str())
    );
    let info = keys.list(t);
    let state = |kid: &str| info.iter().find(|k| k.kid == kid).unwrap().state;
    assert_eq!(state(&old_rs), KeyState::Active);
    assert_eq!(
        state(&new_rs),
        KeyState::PublishedOnly { signs_from: switch }
    );
    let by_old = keys
        .sign(IdTokenAlg::RS256, &claims(switch - 1), None, switch - 1)
        .unwrap();
    assert_eq!(header_of(&by_old)["kid"], old_rs.as_str());

    // From `not_before`, the new keys sign; the old ones are retiring.
    assert_eq!(
        keys.signing_kid(IdTokenAlg::RS256, switch),
        Some(new_rs.as_str())
    );
    assert_eq!(
        keys.signing_kid(IdTokenAlg::ES256, switch),
        Some(new_es.as_str())
    );
    let by_new = keys
        .sign(IdTokenAlg::ES256, &claims(switch), None, switch)
        .unwrap();
    assert_eq!(header_of(&by_new)["kid"], new_es.as_str());
    let retire_end = switch + ID_TOKEN_MAX_LIFETIME;
    assert_eq!(
        keys.list(switch)
            .iter()
            .find(|k| k.kid == old_rs)
            .unwrap()
            .state,
        KeyState::Retiring {
            published_until: Some(retire_end)
        }
    );
    assert!(kids(&keys.jwks(retire_end - 1)).contains(&old_rs));
    assert!(kids(&keys.jwks(retire_end - 1)).contains(&old_es));
    keys.verify(&by_old, None, switch).unwrap();

    // Once its tokens have expired, the old key drops out.
    let gone = kids(&keys.jwks(retire_end));
    assert!(!gone.contains(&old_rs) && !gone.contains(&old_es));
    assert!(gone.contains(&new_rs) && gone.contains(&new_es));
    assert_eq!(gone.len(), 3);
    let long_lived = keys
        .sign(
            IdTokenAlg::RS256,
            &json!({"exp": retire_end + 10}),
            None,
            switch - 1,
        )
        .unwrap();
    assert!(matches!(
        keys.verify(&long_lived, None, retire_end),
        Err(TokenError::UnknownKey)
    ));

    // A later rotation deletes keys nothing can need any more.
    OidcKeys::rotate(&Vault::for_tests(dir.path()), retire_end, 0).unwrap();
    let later =
        OidcKeys::load_or_create(&Vault::for_tests(dir.path()), &issuer, retire_end).unwrap();
    let all: Vec<String> = later.list(retire_end).into_iter().map(|k| k.kid).collect();
    assert!(!all.contains(&old_rs) && !all.contains(&old_es));
    assert!(all.contains(&new_rs), "retiring, still listed");
    assert_ne!(
        later.signing_kid(IdTokenAlg::RS256, retire_end),
        Some(new_rs.as_str()),
        "publish-ahead 0 signs at once"
    );
    assert_eq!(kids_of(&later.jwks(retire_end), "RS256").len(), 2);
}

#[test]
fn the_newest_rotation_wins_over_a_pending_one() {
    let (dir, issuer, first) = setup(T0);
    let oldest = first
        .signing_kid(IdTokenAlg::RS256, T0)
        .unwrap()
        .to_string();
    let pending = OidcKeys::rotate(&Vault::for_tests(dir.path()), T0 + 10, 3600).unwrap()[0]
        .1
        .clone();
    // Rotated again, to sign at once (say the old key leaked).
    let newest = OidcKeys::rotate(&Vault::for_tests(dir.path()), T0 + 20, 0).unwrap()[0]
        .1
        .clone();
    let keys = OidcKeys::load_or_create(&Vault::for_tests(dir.path()), &issuer, T0 + 20).unwrap();
    for t in [T0 + 20, T0 + 10 + 3600, T0 + 10 * 3600] {
        assert_eq!(
            keys.signing_kid(IdTokenAlg::RS256, t),
            Some(newest.as_str())
        );
    }
    assert_eq!(
        keys.signing_kid(IdTokenAlg::RS256, T0 + 19),
        Some(oldest.as_str())
    );
    let state = |kid: &str, t| {
        keys.list(t)
            .into_iter()
            .find(|k| k.kid == kid)
            .map(|k| k.state)
    };
    assert!(matches!(
        state(&pending, T0 + 3700),
        Some(KeyState::Retiring { .. })
    ));
    assert!(matches!(
        state(&oldest, T0 + 21),
        Some(KeyState::Retiring { .. })
    ));
    assert_eq!(
        state(&oldest, T0 + 20 + ID_TOKEN_MAX_LIFETIME),
        Some(KeyState::Expired)
    );
}

#[test]
fn rotating_a_fresh_data_dir_makes_one_key_per_algorithm() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = IssuerKeys::load_or_create(&Vault::for_tests(dir.path()), T0).unwrap();
    let new = OidcKeys::rotate(&Vault::for_tests(dir.path()), T0, 3600).unwrap();
    let keys = OidcKeys::load_or_create(&Vault::for_tests(dir.path()), &issuer, T0).unwrap();
    assert_eq!(
        keys.signing_kid(IdTokenAlg::RS256, T0),
        Some(new[0].1.as_str())
    );
    assert_eq!(keys.jwks(T0)["keys"].as_array().unwrap().len(), 3);
    assert!(OidcKeys::rotate(&Vault::for_tests(dir.path()), T0, -1).is_err());
}

#[test]
fn eddsa_follows_the_issuer_rotation() {
    let (dir, old_issuer, _) = setup(T0);
    let issuer = IssuerKeys::rotate(&Vault::for_tests(dir.path()), T0 + 1).unwrap();
    let keys = OidcKeys::load_or_create(&Vault::for_tests(dir.path()), &issuer, T0 + 1).unwrap();
    assert_eq!(
        keys.signing_kid(IdTokenAlg::EdDSA, T0 + 1),
        Some(issuer.active_kid())
    );
    let ed = kids_of(&keys.jwks(T0 + 1), "EdDSA");
    assert_eq!(ed.len(), 2);
    assert!(ed.contains(&old_issuer.active_kid().to_string()));
    assert_eq!(
        keys.jwks(T0 + 1)["keys"][0]["kid"],
        issuer.active_kid(),
        "the signing issuer key comes first"
    );
    // Both keys are the issuer's: a token signed here verifies with it.
    let token = keys
        .sign(IdTokenAlg::EdDSA, &claims(T0), None, T0 + 1)
        .unwrap();
    let (h, rest) = token.split_once('.').unwrap();
    let (p, s) = rest.split_once('.').unwrap();
    let sig = ed25519_dalek::Signature::from_slice(&URL_SAFE_NO_PAD.decode(s).unwrap()).unwrap();
    issuer
        .signing_key()
        .verifying_key()
        .verify_strict(format!("{h}.{p}").as_bytes(), &sig)
        .unwrap();
}

#[test]
fn a_tampered_key_file_is_refused() {
    let (dir, issuer, _) = setup(T0);
    let vault = Vault::for_tests(dir.path());
    vault
        .update(vault::OIDC_KEYS, T0, |current| {
            let mut stored: Value = serde_json::from_str(current.unwrap()).unwrap();
            stored["keys"][0]["kid"] = json!("someone-elses-kid");
            Ok(Some(stored.to_string()))
        })
        .unwrap();
    let err = OidcKeys::load_or_create(&vault, &issuer, T0).unwrap_err();
    assert!(format!("{err:#}").contains("thumbprint"), "{err:#}");
    vault
        .update(vault::OIDC_KEYS, T0, |_| Ok(Some("{not json".into())))
        .unwrap();
    assert!(OidcKeys::load_or_create(&vault, &issuer, T0).is_err());
}

#[test]
fn rfc7638_thumbprint_of_the_example_rsa_key() {
    let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
    assert_eq!(
        rsa_thumbprint(n, "AQAB"),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
}

#[test]
fn algorithm_names() {
    assert_eq!(IdTokenAlg::default(), IdTokenAlg::RS256);
    for alg in IdTokenAlg::ALL {
        assert_eq!(alg.as_str().parse::<IdTokenAlg>().unwrap(), alg);
        assert_eq!(serde_json::to_value(alg).unwrap(), alg.as_str());
    }
    let names: Vec<&str> = IdTokenAlg::ALL.iter().map(|a| a.as_str()).collect();
    assert_eq!(names, supported_algs());
    assert!("none".parse::<IdTokenAlg>().is_err());
    assert!("rs256".parse::<IdTokenAlg>().is_err());
    assert!(serde_json::from_value::<IdTokenAlg>(json!("none")).is_err());
}
