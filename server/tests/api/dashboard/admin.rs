//! Admin pages and actions: admins only, 403 for everyone else.

use reqwest::StatusCode;
use serde_json::Value;

use super::*;
use crate::common::*;

#[tokio::test]
async fn admin_pages_and_actions_are_for_admins_only() {
    let s = TestServer::start().await;
    let admin_id = account(&s, "root@example.com", true).await;
    let user_id = account(&s, "ann@example.com", false).await;
    let user = Browser::new(&s);
    let csrf = user.sign_in("ann@example.com").await.csrf();
    for path in ["/dashboard/admin/accounts", "/dashboard/admin/clients"] {
        let p = user.get(path).await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{path}");
        assert!(p.body.contains("Admins only"));
        assert!(!p.body.contains("root@example.com"));
    }
    // The action, with a good CSRF token: 403, nothing changed.
    for (who, role) in [(&user_id, "admin"), (&admin_id, "guest")] {
        let p = user
            .post(
                &format!("/dashboard/admin/accounts/{who}/role"),
                &[("csrf", &csrf), ("role", role)],
            )
            .await;
        assert_eq!(p.status, StatusCode::FORBIDDEN);
        assert!(p.body.contains("Admins only"));
    }
    for (who, active) in [(&admin_id, "no"), (&user_id, "yes")] {
        let p = user
            .post(
                &format!("/dashboard/admin/accounts/{who}/active"),
                &[("csrf", &csrf), ("active", active)],
            )
            .await;
        assert_eq!(p.status, StatusCode::FORBIDDEN);
        assert!(p.body.contains("Admins only"));
    }
    assert_eq!(role_of(&s, &user_id).await, "user");
    assert_eq!(role_of(&s, &admin_id).await, "admin");
    assert!(is_active(&s, &admin_id).await);
    // An admin sees both and changes a role.
    let admin = Browser::new(&s);
    let page = admin.sign_in("root@example.com").await;
    assert!(page.body.contains("/dashboard/admin/accounts"));
    let p = admin.get("/dashboard/admin/accounts").await;
    assert_eq!(p.status, StatusCode::OK);
    assert_strict_page(&p);
    assert!(p.body.contains("ann@example.com") && p.body.contains("root@example.com"));
    let admin_csrf = p.csrf();
    let p = admin
        .post(
            &format!("/dashboard/admin/accounts/{user_id}/role"),
            &[("csrf", &admin_csrf), ("role", "guest")],
        )
        .await;
    assert_eq!(
        (p.status, p.location()),
        (StatusCode::SEE_OTHER, "/dashboard/admin/accounts?done=role")
    );
    assert_eq!(role_of(&s, &user_id).await, "guest");
    // The role is read on every request: the guest may not make clients.
    assert_eq!(
        user.post(
            "/dashboard/clients",
            &[
                ("csrf", &csrf),
                ("name", "x"),
                ("redirect_uris", "https://x.example/cb")
            ]
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    // A bad role, an unknown account, the last admin: pages, not 500s.
    let p = admin
        .post(
            &format!("/dashboard/admin/accounts/{user_id}/role"),
            &[("csrf", &admin_csrf), ("role", "emperor")],
        )
        .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    let p = admin
        .post(
            "/dashboard/admin/accounts/nobody/role",
            &[("csrf", &admin_csrf), ("role", "user")],
        )
        .await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    let p = admin
        .post(
            &format!("/dashboard/admin/accounts/{admin_id}/role"),
            &[("csrf", &admin_csrf), ("role", "user")],
        )
        .await;
    assert_eq!(p.status, StatusCode::CONFLICT);
    assert!(p.body.contains("last active admin"), "{}", p.body);
    assert_eq!(role_of(&s, &admin_id).await, "admin");
    let p = admin.get("/dashboard/admin/clients").await;
    assert_eq!(p.status, StatusCode::OK);
    // Deactivate: the account's sessions end at once; reactivate.
    set_role(&s, &user_id, "user").await;
    let (_, secret, _) = create(&user, &csrf, "Ann's shop").await;
    assert!(!secret.is_empty());
    let active = |who: String, yes: &'static str| {
        let (admin, csrf) = (&admin, admin_csrf.clone());
        async move {
            admin
                .post(
                    &format!("/dashboard/admin/accounts/{who}/active"),
                    &[("csrf", csrf.as_str()), ("active", yes)],
                )
                .await
        }
    };
    let p = active(user_id.clone(), "no").await;
    assert_eq!(
        (p.status, p.location()),
        (
            StatusCode::SEE_OTHER,
            "/dashboard/admin/accounts?done=deactivated"
        )
    );
    assert!(!is_active(&s, &user_id).await);
    assert_eq!(
        user.get("/dashboard/clients").await.status,
        StatusCode::SEE_OTHER
    );
    let p = admin.get("/dashboard/admin/clients").await;
    assert!(p.body.contains("suspended"), "its clients are suspended");
    let p = active(user_id.clone(), "yes").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert!(is_active(&s, &user_id).await);
    user.sign_in("ann@example.com").await;
    let p = active(user_id.clone(), "maybe").await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    let p = active(admin_id.clone(), "no").await;
    assert_eq!(p.status, StatusCode::CONFLICT, "the last active admin");
    assert!(is_active(&s, &admin_id).await);
}

async fn is_active(s: &TestServer, id: &str) -> bool {
    stored_account(s, id).await.deactivated_at.is_none()
}

#[tokio::test]
async fn the_event_log_is_for_admins_and_filters() {
    use authentiq_server::store::SecurityEvent;
    let s = TestServer::start().await;
    account(&s, "root@example.com", true).await;
    account(&s, "ann@example.com", false).await;
    let user = Browser::new(&s);
    user.sign_in("ann@example.com").await;
    let p = user.get("/dashboard/admin/events").await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let t = now();
    for (i, (kind, client, pk)) in [
        ("sign-in-approved", "shop", "KEY1"),
        ("sign-in-denied", "shop", "KEY2"),
        ("token-reused", "blog", "KEY1"),
    ]
    .into_iter()
    .enumerate()
    {
        let e = SecurityEvent {
            id: 0,
            at: t - 100 + i as i64,
            kind: kind.into(),
            pk: Some(pk.into()),
            client_id: Some(client.into()),
            ip: Some("192.0.2.9".into()),
            detail: Some("<script>alert(1)</script>".into()),
        };
        s.state
            .db
            .call(move |st| st.insert_security_event(&e))
            .await
            .unwrap();
    }
    let admin = Browser::new(&s);
    admin.sign_in("root@example.com").await;
    let rows = |p: &Page| p.body.matches("<tr data-kind=").count();
    let p = admin.get("/dashboard/admin/events").await;
    assert_eq!(p.status, StatusCode::OK);
    assert_strict_page(&p);
    assert_eq!(rows(&p), 3);
    assert!(!p.body.contains("<script>alert"), "details are escaped");
    let p = admin.get("/dashboard/admin/events?client=shop").await;
    assert_eq!(rows(&p), 2);
    let p = admin
        .get("/dashboard/admin/events?client=shop&key=KEY1")
        .await;
    assert_eq!(rows(&p), 1);
    assert!(p.body.contains("data-kind=\"sign-in-approved\""));
    let p = admin.get("/dashboard/admin/events?kind=token-reused").await;
    assert_eq!(rows(&p), 1);
    assert!(p.body.contains("<option value=\"token-reused\" selected>"));
    let p = admin
        .get("/dashboard/admin/events?kind=nonsense&ip=192.0.2.9")
        .await;
    assert_eq!(rows(&p), 3, "an unknown kind is no filter");
    let p = admin.get("/dashboard/admin/events?ip=198.51.100.1").await;
    assert_eq!((p.status, rows(&p)), (StatusCode::OK, 0));
    assert!(p.body.contains("No events match."));
    let p = admin.get("/dashboard/admin/events?client=%FF%FE").await;
    assert_eq!(p.status, StatusCode::OK, "bad input is no server error");
}

#[tokio::test]
async fn admins_delete_accounts_after_a_confirmation() {
    let s = TestServer::start().await;
    let admin_id = account(&s, "root@example.com", true).await;
    let ann = account(&s, "ann@example.com", false).await;
    let user = Browser::new(&s);
    let csrf = user.sign_in("ann@example.com").await.csrf();
    let (client_id, _, _) = create(&user, &csrf, "Ann's shop").await;
    // Not for users: the page, and the action with a good CSRF token.
    for who in [&admin_id, &ann] {
        let path = format!("/dashboard/admin/accounts/{who}/delete");
        assert_eq!(user.get(&path).await.status, StatusCode::FORBIDDEN);
        let p = user
            .post(&path, &[("csrf", &csrf), ("confirm", "yes")])
            .await;
        assert_eq!(p.status, StatusCode::FORBIDDEN);
    }
    assert!(is_active(&s, &admin_id).await && is_active(&s, &ann).await);
    let admin = Browser::new(&s);
    let admin_csrf = admin.sign_in("root@example.com").await.csrf();
    let path = format!("/dashboard/admin/accounts/{ann}/delete");
    let p = admin.get(&path).await;
    assert_eq!(p.status, StatusCode::OK);
    assert_strict_page(&p);
    assert!(p.body.contains("Delete ann@example.com?") && p.body.contains("its 1 client "));
    let p = admin.post(&path, &[("csrf", &admin_csrf)]).await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST, "no confirmation");
    let p = admin
        .post(&path, &[("csrf", &admin_csrf), ("confirm", "yes")])
        .await;
    assert_eq!(
        (p.status, p.location()),
        (
            StatusCode::SEE_OTHER,
            "/dashboard/admin/accounts?done=deleted"
        )
    );
    assert_eq!(
        user.get("/dashboard/clients").await.status,
        StatusCode::SEE_OTHER
    );
    let gone = authentiq_server::oidc::clients::find(&s.state, &client_id)
        .await
        .unwrap();
    assert!(gone.is_none(), "its clients went with it");
    assert_eq!(admin.get(&path).await.status, StatusCode::NOT_FOUND);
    // The last active admin stays.
    let own = format!("/dashboard/admin/accounts/{admin_id}/delete");
    let p = admin
        .post(&own, &[("csrf", &admin_csrf), ("confirm", "yes")])
        .await;
    assert_eq!(p.status, StatusCode::CONFLICT);
    assert!(is_active(&s, &admin_id).await);
}

#[tokio::test]
async fn server_status_is_for_admins_and_lists_the_signing_keys() {
    let s = TestServer::start().await;
    account(&s, "root@example.com", true).await;
    account(&s, "ann@example.com", false).await;
    let user = Browser::new(&s);
    user.sign_in("ann@example.com").await;
    let p = user.get("/dashboard/admin/status").await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(!p.body.contains("Signing keys"));
    let admin = Browser::new(&s);
    let home = admin.sign_in("root@example.com").await;
    assert!(home.body.contains("href=\"/dashboard/admin/status\""));
    let p = admin.get("/dashboard/admin/status").await;
    assert_eq!(p.status, StatusCode::OK);
    assert_strict_page(&p);
    assert!(p.body.contains(&format!(
        "<span id=\"version\">{}</span>",
        env!("CARGO_PKG_VERSION")
    )));
    assert!(p.body.contains("<dd>2</dd>"), "two accounts");
    // Every key the JWKS publishes is listed.
    let jwks: Value = s
        .http
        .get(s.url("/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    assert!(!kids.is_empty());
    for kid in kids {
        assert!(p.body.contains(&format!("data-kid=\"{kid}\"")), "{kid}");
    }
    assert!(p.body.contains("authentiq-server keys rotate"));
}

async fn published_kids(s: &TestServer) -> Vec<String> {
    let jwks: Value = s
        .http
        .get(s.url("/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["kid"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn admins_rotate_the_keys_from_the_status_page() {
    let s = TestServer::start().await;
    account(&s, "root@example.com", true).await;
    account(&s, "ann@example.com", false).await;
    let before = published_kids(&s).await;
    let old_issuer = s.state.keys().issuer.active_kid().to_string();
    // Not for users, and not without the form's CSRF token.
    let user = Browser::new(&s);
    let csrf = user.sign_in("ann@example.com").await.csrf();
    let p = user
        .post("/dashboard/admin/status/rotate-keys", &[("csrf", &csrf)])
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let admin = Browser::new(&s);
    let csrf = admin.sign_in("root@example.com").await.csrf();
    let p = admin
        .post("/dashboard/admin/status/rotate-keys", &[("csrf", "forged")])
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert_eq!(published_kids(&s).await, before, "nothing rotated");

    let p = admin
        .post("/dashboard/admin/status/rotate-keys", &[("csrf", &csrf)])
        .await;
    assert_eq!(
        (p.status, p.location()),
        (
            StatusCode::SEE_OTHER,
            "/dashboard/admin/status?done=rotated"
        )
    );
    // At once, without a restart: a new issuer key signs; the old keys and
    // three new ones are published.
    let new_issuer = s.state.keys().issuer.active_kid().to_string();
    assert_ne!(new_issuer, old_issuer);
    let after = published_kids(&s).await;
    assert_eq!(after.len(), before.len() * 2);
    assert!(
        before.iter().all(|k| after.contains(k)),
        "old keys still verify"
    );
    let p = admin.get("/dashboard/admin/status?done=rotated").await;
    assert!(p.body.contains("New keys were made"));
    assert!(p.body.contains(&format!("data-kid=\"{new_issuer}\"")));
    let logged = s
        .state
        .db
        .call(|db| {
            db.list_security_events(
                &authentiq_server::store::EventFilter {
                    kind: Some("keys-rotated".into()),
                    ..Default::default()
                },
                10,
            )
        })
        .await
        .unwrap();
    assert_eq!(logged.len(), 1);
}
