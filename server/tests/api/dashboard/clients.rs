//! My clients: create, edit, rotate, delete; escaping; usage.

use reqwest::StatusCode;

use super::*;
use crate::common::*;

#[tokio::test]
async fn create_edit_rotate_and_delete_a_client() {
    let s = TestServer::start().await;
    let owner_id = account(&s, "ann@example.com", false).await;
    account(&s, "eve@example.com", false).await;
    let b = Browser::new(&s);
    let csrf = b.sign_in("ann@example.com").await.csrf();
    let p = b.get("/dashboard/clients/new").await;
    assert_eq!(p.status, StatusCode::OK);
    assert_strict_page(&p);
    let (id, secret, page) = create(&b, &csrf, "Shop").await;
    assert_strict_page(&page);
    assert!(page.body.contains("shown only this once"));
    assert!(
        page.body.contains("data-copy=\"client-secret\""),
        "a copy button"
    );
    assert_eq!(
        token_error(&s, &id, &secret).await,
        "invalid_grant",
        "it works"
    );
    // It is the one client model, owned by the account.
    let stored = authentiq_server::oidc::clients::find(&s.state, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.owner.as_deref(), Some(owner_id.as_str()));
    assert_eq!(
        stored.redirect_uris,
        ["https://shop.example/cb", "https://shop.example/cb2"]
    );
    assert_eq!(stored.id_token_signed_response_alg, "EdDSA");
    // Listed; its page has the integration snippet, but not the secret.
    let list = b.get("/dashboard/clients").await;
    assert!(list.body.contains(&format!("/dashboard/clients/{id}")));
    let p = b.get(&format!("/dashboard/clients/{id}")).await;
    assert_eq!(p.status, StatusCode::OK);
    let text = p.text();
    assert!(text.contains(&format!("<code id=\"issuer\">{}</code>", s.url)));
    assert!(text.contains(&format!(
        "<code id=\"discovery\">{}/.well-known/openid-configuration</code>",
        s.url
    )));
    assert!(text.contains(&format!("client_id={id}\n")), "the snippet");
    assert!(!p.body.contains(&secret));
    // Another account does not see it.
    let eve = Browser::new(&s);
    let eve_csrf = eve.sign_in("eve@example.com").await.csrf();
    assert!(!eve.get("/dashboard/clients").await.body.contains(&id));
    assert_eq!(
        eve.get(&format!("/dashboard/clients/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    let p = eve
        .post(
            &format!("/dashboard/clients/{id}/rotate"),
            &[("csrf", &eve_csrf)],
        )
        .await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    let p = eve
        .post(
            &format!("/dashboard/clients/{id}/delete"),
            &[("csrf", &eve_csrf), ("confirm", "yes")],
        )
        .await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    // Edit: name, URIs, logout URIs.
    let edit = |name: &'static str, redirects: &'static str| {
        let (b, id, csrf) = (&b, id.clone(), csrf.clone());
        async move {
            b.post(
                &format!("/dashboard/clients/{id}"),
                &[
                    ("csrf", csrf.as_str()),
                    ("name", name),
                    ("redirect_uris", redirects),
                    ("post_logout_redirect_uris", "https://shop.example/bye"),
                    ("backchannel_logout_uri", "https://shop.example/bc"),
                    ("alg", "EdDSA"),
                    ("subject_type", "public"),
                ],
            )
            .await
        }
    };
    let p = edit("Shop 2", "https://shop.example/new").await;
    assert_eq!(
        (p.status, p.location().to_string()),
        (
            StatusCode::SEE_OTHER,
            format!("/dashboard/clients/{id}?done=saved")
        )
    );
    let c = authentiq_server::oidc::clients::find(&s.state, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.name, "Shop 2");
    assert_eq!(c.redirect_uris, ["https://shop.example/new"]);
    assert_eq!(c.post_logout_redirect_uris, ["https://shop.example/bye"]);
    assert_eq!(
        c.backchannel_logout_uri.as_deref(),
        Some("https://shop.example/bc")
    );
    assert_eq!(c.owner.as_deref(), Some(owner_id.as_str()), "still Ann's");
    assert_eq!(
        token_error(&s, &id, &secret).await,
        "invalid_grant",
        "same secret"
    );
    // Bad input: the form again with the registration's reason, unchanged.
    let p = edit("Shop 3", "javascript:alert(1)").await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.body.contains("class=\"dash-error\""), "{}", p.body);
    assert!(
        p.body.contains("javascript:alert(1)"),
        "what was typed is kept"
    );
    let p = edit("Shop 3", "").await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    let c = authentiq_server::oidc::clients::find(&s.state, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.name, "Shop 2");
    // Rotate: the old secret stops working at /token.
    let p = b
        .post(
            &format!("/dashboard/clients/{id}/rotate"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    let new_secret = between(
        &p.body,
        "<code id=\"client-secret\" class=\"dash-secret\">",
        "<",
    )
    .to_string();
    assert_ne!(new_secret, secret);
    assert_eq!(token_error(&s, &id, &secret).await, "invalid_client");
    assert_eq!(token_error(&s, &id, &new_secret).await, "invalid_grant");
    // Delete: a confirmation page, and nothing without the confirmation.
    let p = b.get(&format!("/dashboard/clients/{id}/delete")).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains("Delete Shop 2?"));
    assert!(p.body.contains("name=\"confirm\" value=\"yes\""));
    let p = b
        .post(
            &format!("/dashboard/clients/{id}/delete"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert_eq!(token_error(&s, &id, &new_secret).await, "invalid_grant");
    let p = b
        .post(
            &format!("/dashboard/clients/{id}/delete"),
            &[("csrf", &csrf), ("confirm", "yes")],
        )
        .await;
    assert_eq!(
        (p.status, p.location()),
        (StatusCode::SEE_OTHER, "/dashboard/clients?done=deleted")
    );
    assert_eq!(token_error(&s, &id, &new_secret).await, "invalid_client");
    assert_eq!(
        b.get(&format!("/dashboard/clients/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    let list = b.get("/dashboard/clients?done=deleted").await;
    assert!(list.body.contains("The client was deleted."));
    assert!(!list.body.contains(&id));
    // A public client has no secret to show or rotate.
    let p = b
        .post(
            "/dashboard/clients",
            &[
                ("csrf", csrf.as_str()),
                ("name", "App"),
                ("redirect_uris", "com.example.app:/cb"),
                ("auth_method", "none"),
                ("alg", "RS256"),
                ("subject_type", "pairwise"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::CREATED, "{}", p.body);
    assert!(p.body.contains("public client") && !p.body.contains("client-secret"));
    let app = between(&p.body, "<code id=\"client-id\">", "<").to_string();
    let p = b
        .post(
            &format!("/dashboard/clients/{app}/rotate"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    // An admin manages anyone's client.
    let root = account(&s, "root@example.com", true).await;
    assert!(!root.is_empty());
    let admin = Browser::new(&s);
    admin.sign_in("root@example.com").await;
    let all = admin.get("/dashboard/admin/clients").await;
    assert!(all.body.contains(&app) && all.body.contains("ann@example.com"));
    assert_eq!(
        admin.get(&format!("/dashboard/clients/{app}")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn client_names_and_uris_are_escaped() {
    let s = TestServer::start().await;
    account(&s, "ann@example.com", false).await;
    let b = Browser::new(&s);
    let csrf = b.sign_in("ann@example.com").await.csrf();
    let name = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>";
    let (id, _, created) = create(&b, &csrf, name).await;
    let escaped =
        "&lt;script&gt;alert(1)&lt;&#x2f;script&gt;&quot;&gt;&lt;img src=x onerror=alert(2)&gt;";
    for page in [
        created,
        b.get("/dashboard/clients").await,
        b.get(&format!("/dashboard/clients/{id}")).await,
        b.get(&format!("/dashboard/clients/{id}/delete")).await,
    ] {
        assert_eq!(page.status.as_u16() / 100, 2);
        assert!(!page.body.contains("<script>alert"), "{}", page.body);
        assert!(!page.body.contains("<img src=x"), "{}", page.body);
        assert!(page.body.contains(escaped), "{}", page.body);
        assert_strict_page(&page);
    }
    // A refused edit shows what was typed, escaped too.
    let p = b
        .post(
            &format!("/dashboard/clients/{id}"),
            &[
                ("csrf", csrf.as_str()),
                ("name", "x"),
                (
                    "redirect_uris",
                    "https://a.example/\"><script>alert(3)</script>",
                ),
                ("alg", "RS256"),
                ("subject_type", "pairwise"),
            ],
        )
        .await;
    assert!(!p.body.contains("<script>alert(3)"), "{}", p.body);
}

#[tokio::test]
async fn client_page_counts_sign_ins_per_day_and_lists_recent_events() {
    use authentiq_server::store::SecurityEvent;
    let s = TestServer::start().await;
    account(&s, "ann@example.com", false).await;
    let b = Browser::new(&s);
    let csrf = b.sign_in("ann@example.com").await.csrf();
    let (id, _, _) = create(&b, &csrf, "Shop").await;
    let p = b.get(&format!("/dashboard/clients/{id}")).await;
    assert!(
        p.body.contains("0 approved, 0 denied and 0 expired"),
        "{}",
        p.body
    );
    assert!(p.body.contains("Nothing yet"));
    // Events as the sign-in page records them; one of another client, one too old.
    let t = now();
    let day = 86_400;
    let seeded = [
        (t - 10, "sign-in-approved", id.as_str()),
        (t - 5, "sign-in-approved", id.as_str()),
        (t - 2 * day, "sign-in-denied", id.as_str()),
        (t - 2 * day - 1, "sign-in-expired", id.as_str()),
        (t - 2 * day, "sign-in-approved", "another-client"),
        (t - 40 * day, "sign-in-approved", id.as_str()),
    ];
    for (at, kind, client) in seeded {
        let e = SecurityEvent {
            id: 0,
            at,
            kind: kind.into(),
            pk: Some("AbCdEfGhIjKlMnOp".into()),
            client_id: Some(client.into()),
            ip: Some("192.0.2.7".into()),
            detail: None,
        };
        s.state
            .db
            .call(move |st| st.insert_security_event(&e))
            .await
            .unwrap();
    }
    let p = b.get(&format!("/dashboard/clients/{id}")).await;
    assert_eq!(p.status, StatusCode::OK);
    assert_strict_page(&p);
    assert!(
        p.body.contains("2 approved, 1 denied and 1 expired"),
        "{}",
        p.body
    );
    assert_eq!(p.body.matches("<g data-day=").count(), 30, "30 days");
    let text = p.text();
    let today = between(&text, "<g data-day=\"", "\"").to_string();
    assert!(
        text.contains("data-approved=\"2\" data-denied=\"0\" data-expired=\"0\"><title>")
            && text.contains("data-approved=\"0\" data-denied=\"1\" data-expired=\"1\"><title>"),
        "today's and two days ago's bars"
    );
    assert!(!today.is_empty());
    assert_eq!(p.body.matches("class=\"dash-bar-approved\"").count(), 1);
    assert_eq!(p.body.matches("class=\"dash-bar-denied\"").count(), 1);
    assert_eq!(p.body.matches("class=\"dash-bar-expired\"").count(), 1);
    // The newest first.
    let recent = between(&p.body, "<tbody>", "</tbody>");
    assert_eq!(recent.matches("<tr>").count(), 4, "{recent}");
    assert!(recent.contains("Sign-in expired unanswered"));
    assert!(recent.contains("Sign-in approved") && recent.contains("Sign-in denied"));
    assert!(recent.contains("AbCdEfGhIj…") && recent.contains("192.0.2.7"));
    assert!(recent.find("Sign-in approved") < recent.find("Sign-in denied"));
}

#[tokio::test]
async fn sdk_verification_flows_are_edited_on_the_client_page() {
    let s = TestServer::start().await;
    account(&s, "ann@example.com", false).await;
    let b = Browser::new(&s);
    let csrf = b.sign_in("ann@example.com").await.csrf();
    let (id, secret, _) = create(&b, &csrf, "Shop").await;
    let edit = |flows: &'static str| {
        let (b, id, csrf) = (&b, id.clone(), csrf.clone());
        async move {
            b.post(
                &format!("/dashboard/clients/{id}"),
                &[
                    ("csrf", csrf.as_str()),
                    ("name", "Shop"),
                    ("redirect_uris", "https://shop.example/cb"),
                    ("alg", "EdDSA"),
                    ("subject_type", "pairwise"),
                    ("sdk_flows", flows),
                ],
            )
            .await
        }
    };
    let mint = |slug: &'static str| {
        let (s, id, secret) = (&s, id.clone(), secret.clone());
        async move {
            s.http
                .get(s.url("/mobile-sdk/verification-token"))
                .basic_auth(id, Some(secret))
                .header("aq-flow-slug", slug)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(mint("kyc").await, StatusCode::NOT_FOUND, "no such flow yet");
    let p = edit("kyc: email~rs phone~rs\r\n\r\ndefault: email~rs").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let c = authentiq_server::oidc::clients::find(&s.state, &id)
        .await
        .unwrap()
        .unwrap();
    let flows: Vec<(&str, &str)> = c
        .sdk_flows
        .iter()
        .map(|f| (f.slug.as_str(), f.scope.as_str()))
        .collect();
    assert_eq!(
        flows,
        [("kyc", "email~rs phone~rs"), ("default", "email~rs")]
    );
    assert_eq!(
        mint("kyc").await,
        StatusCode::OK,
        "the SDK endpoint uses them"
    );
    let p = b.get(&format!("/dashboard/clients/{id}")).await;
    assert!(
        p.text()
            .contains("kyc: email~rs phone~rs\ndefault: email~rs</textarea>")
    );
    // Bad flows: the form again with the reason; nothing changed.
    for bad in [
        "kyc email~rs",
        "k y c: email~rs",
        "kyc:",
        "kyc: email~rs\nkyc: phone~rs",
        "kyc: email~xx",
    ] {
        let p = edit(bad).await;
        assert_eq!(p.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(p.body.contains("class=\"dash-error\""), "{bad}");
    }
    assert_eq!(mint("kyc").await, StatusCode::OK);
    // Emptied: the flows go.
    assert_eq!(edit("").await.status, StatusCode::SEE_OTHER);
    assert_eq!(mint("kyc").await, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn response_types_are_ticked_and_the_grant_types_follow() {
    let s = TestServer::start().await;
    account(&s, "ann@example.com", false).await;
    let b = Browser::new(&s);
    let csrf = b.sign_in("ann@example.com").await.csrf();
    let (id, _, _) = create(&b, &csrf, "Shop").await;
    let p = b.get(&format!("/dashboard/clients/{id}")).await;
    assert!(
        p.body.contains("value=\"code\" checked>"),
        "code by default"
    );
    assert!(!p.body.contains("value=\"id_token token\" checked>"));
    let edit = |types: &'static [&'static str]| {
        let (b, id, csrf) = (&b, id.clone(), csrf.clone());
        async move {
            let mut fields = vec![
                ("csrf", csrf.as_str()),
                ("name", "Shop"),
                ("redirect_uris", "https://shop.example/cb"),
                ("alg", "EdDSA"),
                ("subject_type", "pairwise"),
            ];
            for t in types {
                fields.push(("response_types", t));
            }
            b.post(&format!("/dashboard/clients/{id}"), &fields).await
        }
    };
    let stored = || {
        let (s, id) = (&s, id.clone());
        async move {
            let c = authentiq_server::oidc::clients::find(&s.state, &id)
                .await
                .unwrap()
                .unwrap();
            (c.response_types, c.grant_types)
        }
    };
    let p = edit(&["code", "code id_token", "none of these"]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let (types, grants) = stored().await;
    assert_eq!(
        types,
        ["code", "code id_token"],
        "unknown values are dropped"
    );
    assert_eq!(grants, ["authorization_code", "refresh_token", "implicit"]);
    let p = b.get(&format!("/dashboard/clients/{id}")).await;
    assert!(p.body.contains("value=\"code id_token\" checked>"));
    let p = edit(&["code"]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let (types, grants) = stored().await;
    assert_eq!(types, ["code"]);
    assert_eq!(
        grants,
        ["authorization_code", "refresh_token"],
        "implicit off again"
    );
    let p = edit(&["token"]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let (types, grants) = stored().await;
    assert_eq!(
        (types, grants),
        (
            vec!["token".to_string()],
            vec!["refresh_token".to_string(), "implicit".to_string()]
        )
    );
}
