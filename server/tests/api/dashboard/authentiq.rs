//! "Sign in with Authentiq" to the dashboard, and linking an Authentiq ID
//! to an account: the real flow through `/authorize`, the sign-in page, a
//! scripted device approving with the page's number, `/sign-in/…/continue`
//! and the dashboard's callback (code, PKCE, ID token). Also: expired
//! sign-ins counted on a client's page.

use authentiq_protocol::jwt::Claims;
use authentiq_protocol::payloads::{Decision, SignInResponse};

use super::*;

/// Where a browser's redirect leads, as a path of the server.
fn path_of(s: &TestServer, location: &str) -> String {
    location
        .strip_prefix(&s.url)
        .unwrap_or(location)
        .to_string()
}

/// A sign-in the browser was sent to by the dashboard, up to the page.
struct Started {
    sid: String,
    number: u16,
    /// The `/authorize` request's parameters.
    authorize: url::Url,
}

/// Follows the dashboard's redirect (`/dashboard/authentiq`, or the link
/// form's answer) to the sign-in page.
async fn open(b: &Browser<'_>, start: &Page) -> Started {
    assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.body);
    let authorize = url::Url::parse(start.location()).unwrap();
    assert_eq!(authorize.path(), "/authorize");
    let to_page = b.get(&path_of(b.s, start.location())).await;
    assert_eq!(to_page.status, StatusCode::SEE_OTHER, "{}", to_page.body);
    let page_path = to_page.location().to_string();
    let sid = page_path.trim_start_matches("/sign-in/").to_string();
    let page = b.get(&page_path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("Authentiq Dashboard"), "{}", page.body);
    let number = between(&page.body, "id=\"aq-number\">", "<")
        .trim()
        .parse()
        .unwrap();
    Started {
        sid,
        number,
        authorize,
    }
}

/// The device answers the session with `decision` (picking `number`).
async fn answer(s: &TestServer, d: &Device, sid: &str, number: u16, decision: Decision) {
    let jwt = s
        .http
        .get(s.url(&format!("/sign-in/{sid}")))
        .header("accept", "application/jwt")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let req = jwt_payload(&jwt);
    assert_eq!(req["scope"], "openid");
    let signed = d.sign(
        Claims::new(SignInResponse {
            decision,
            nonce: req["nonce"].as_str().unwrap().into(),
            number: Some(number),
            scope: "openid".into(),
            claims: serde_json::Map::new(),
            grants: Vec::new(),
            push_token: None,
            report: false,
        })
        .audience(req["session"].as_str().unwrap())
        .valid_for(now(), 60),
    );
    let res = s.post_jwt(&format!("/sign-in/{sid}"), &signed).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
}

/// The browser continues after the device's answer: the callback URL.
async fn continue_to_callback(b: &Browser<'_>, sid: &str) -> String {
    let back = b.get(&format!("/sign-in/{sid}/continue")).await;
    assert_eq!(back.status, StatusCode::FOUND, "{}", back.body);
    let path = path_of(b.s, back.location());
    assert!(path.starts_with("/dashboard/authentiq/callback?"), "{path}");
    path
}

/// The whole flow from `start`, `d` approving: the callback's answer.
async fn approve(b: &Browser<'_>, start: &Page, d: &Device) -> Page {
    let started = open(b, start).await;
    answer(b.s, d, &started.sid, started.number, Decision::Approve).await;
    let callback = continue_to_callback(b, &started.sid).await;
    b.get(&callback).await
}

/// A registered device and an account (a user) with `pk` linked or not.
async fn setup(s: &TestServer, email: &str, link: bool) -> (Device, String) {
    let d = Device::new();
    s.register(&d).await;
    let id = account(s, email, false).await;
    if link {
        link_in_store(s, &id, Some(&d.pk)).await;
    }
    (d, id)
}

async fn link_in_store(s: &TestServer, id: &str, pk: Option<&str>) {
    let pk = pk.map(str::to_string);
    change_account(s, id, move |a| a.authentiq_pk = pk).await;
}

async fn linked_pk(s: &TestServer, id: &str) -> Option<String> {
    stored_account(s, id).await.authentiq_pk
}

#[tokio::test]
async fn a_linked_id_signs_in_through_the_providers_own_code_flow() {
    let s = TestServer::start().await;
    let (d, _) = setup(&s, "linked@example.com", true).await;
    let b = Browser::new(&s);
    let form = b.get("/dashboard").await;
    assert!(form.body.contains("href=\"/dashboard/authentiq\""));
    let start = b.get("/dashboard/authentiq").await;
    let started = open(&b, &start).await;
    let q: HashMap<String, String> = started.authorize.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], "authentiq-dashboard");
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(
        q["redirect_uri"],
        s.url("/dashboard/authentiq/callback"),
        "{q:?}"
    );
    for p in ["state", "nonce", "code_challenge"] {
        assert!(q[p].len() >= 32, "{p} is random: {q:?}");
    }
    let flow = b.cookie("aq_dash_flow").expect("the flow's cookie");
    assert!(
        !flow.contains(&q["code_challenge"]),
        "the verifier, not the challenge"
    );
    assert!(start.set_cookie("aq_dash_flow").contains("HttpOnly"));
    assert!(start.set_cookie("aq_dash_flow").contains("SameSite=Strict"));
    answer(&s, &d, &started.sid, started.number, Decision::Approve).await;
    let callback = continue_to_callback(&b, &started.sid).await;
    let done = b.get(&callback).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location(), "/dashboard/clients");
    assert!(done.set_cookie("aq_dash").contains("HttpOnly"));
    assert!(
        b.cookie("aq_dash_flow").is_none(),
        "the flow's cookie is gone"
    );
    let page = b.get("/dashboard/clients").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("linked@example.com"));
    // The flow is over: its answer does not sign in twice.
    let again = b.get(&callback).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.body);
}

#[tokio::test]
async fn an_unlinked_id_and_a_deactivated_account_are_refused() {
    let s = TestServer::start().await;
    let (d, id) = setup(&s, "nobody@example.com", false).await;
    let b = Browser::new(&s);
    let start = b.get("/dashboard/authentiq").await;
    let p = approve(&b, &start, &d).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN, "{}", p.body);
    assert!(p.text().contains("No account of this dashboard is linked"));
    assert!(
        p.body.contains("name=\"password\""),
        "the sign-in form again"
    );
    assert!(b.cookie("aq_dash").is_none());
    assert_strict_page(&p);

    link_in_store(&s, &id, Some(&d.pk)).await;
    change_account(&s, &id, |a| a.deactivated_at = Some(now())).await;
    let start = b.get("/dashboard/authentiq").await;
    let p = approve(&b, &start, &d).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN, "{}", p.body);
    assert!(p.text().contains("This account is deactivated"));
    assert!(b.cookie("aq_dash").is_none());
}

#[tokio::test]
async fn a_wrong_state_a_wrong_verifier_a_denial_or_another_browser_is_refused() {
    let s = TestServer::start().await;
    let (d, _) = setup(&s, "linked@example.com", true).await;

    // The state changed on the way back.
    let b = Browser::new(&s);
    let started = open(&b, &b.get("/dashboard/authentiq").await).await;
    answer(&s, &d, &started.sid, started.number, Decision::Approve).await;
    let callback = continue_to_callback(&b, &started.sid).await;
    let mut u = url::Url::parse(&s.url(&callback)).unwrap();
    let pairs: Vec<(String, String)> = u.query_pairs().into_owned().collect();
    u.query_pairs_mut().clear().extend_pairs(
        pairs
            .iter()
            .map(|(k, v)| (k.as_str(), if k == "state" { "forged" } else { v.as_str() })),
    );
    let forged = path_of(&s, u.as_str());
    let p = b.get(&forged).await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST, "{}", p.body);
    assert!(
        p.text()
            .contains("not for the sign-in this browser started")
    );
    assert!(b.cookie("aq_dash").is_none());

    // Another browser (no flow cookie) brings the right answer.
    let other = Browser::new(&s);
    let p = other.get(&callback).await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST, "{}", p.body);
    assert!(p.text().contains("started in another browser"));
    assert!(other.cookie("aq_dash").is_none());

    // PKCE: the flow's verifier is not the one of the challenge.
    let b = Browser::new(&s);
    let started = open(&b, &b.get("/dashboard/authentiq").await).await;
    answer(&s, &d, &started.sid, started.number, Decision::Approve).await;
    let callback = continue_to_callback(&b, &started.sid).await;
    let flow = b.cookie("aq_dash_flow").unwrap();
    let parts: Vec<&str> = flow.splitn(4, '.').collect();
    let wrong = format!(
        "{}.{}.{}.{}",
        parts[0], parts[1], "a-verifier-of-another-flow-0123456789abcdefgh", parts[3]
    );
    b.set("aq_dash_flow", &wrong);
    let p = b.get(&callback).await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST, "{}", p.body);
    assert!(p.text().contains("its code was refused"));
    assert!(b.cookie("aq_dash").is_none());

    // Denied on the device.
    let b = Browser::new(&s);
    let started = open(&b, &b.get("/dashboard/authentiq").await).await;
    answer(&s, &d, &started.sid, started.number, Decision::Deny).await;
    let callback = continue_to_callback(&b, &started.sid).await;
    let p = b.get(&callback).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN, "{}", p.body);
    assert!(p.text().contains("denied on the device"));
    assert!(b.cookie("aq_dash").is_none());

    // Nonsense at the callback is a page, not an error dump.
    for q in [
        "",
        "?state=x",
        "?code=%FF&state=&iss=x",
        "?error=server_error",
    ] {
        let p = Browser::new(&s)
            .get(&format!("/dashboard/authentiq/callback{q}"))
            .await;
        assert_eq!(p.status, StatusCode::BAD_REQUEST, "{q}: {}", p.body);
        assert_strict_page(&p);
    }
}

#[tokio::test]
async fn an_owner_links_an_id_and_unlinks_it() {
    let s = TestServer::start().await;
    let (d, id) = setup(&s, "owner@example.com", false).await;
    let b = Browser::new(&s);
    b.sign_in("owner@example.com").await;
    let acc = b.get("/dashboard/account").await;
    assert!(acc.text().contains("No Authentiq ID is linked"));
    let csrf = acc.csrf();
    // Without or with a wrong CSRF token: refused, nothing started.
    for token in ["", "wrong"] {
        let p = b
            .post("/dashboard/account/authentiq", &[("csrf", token)])
            .await;
        assert_eq!(p.status, StatusCode::FORBIDDEN);
        assert!(b.cookie("aq_dash_flow").is_none());
    }
    let start = b
        .post("/dashboard/account/authentiq", &[("csrf", &csrf)])
        .await;
    let done = approve(&b, &start, &d).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location(), "/dashboard/account?done=linked");
    assert_eq!(linked_pk(&s, &id).await.as_deref(), Some(d.pk.as_str()));
    let acc = b.get(done.location()).await;
    assert!(acc.text().contains("The Authentiq ID is linked"));
    assert!(acc.text().contains(&d.pk), "the linked ID is shown");

    // Signed out, the ID signs in.
    let fresh = Browser::new(&s);
    let p = approve(&fresh, &fresh.get("/dashboard/authentiq").await, &d).await;
    assert_eq!(p.location(), "/dashboard/clients", "{}", p.body);

    // Another account cannot link the same ID.
    let other_id = account(&s, "other@example.com", false).await;
    let other = Browser::new(&s);
    other.sign_in("other@example.com").await;
    let csrf2 = other.get("/dashboard/account").await.csrf();
    let start = other
        .post("/dashboard/account/authentiq", &[("csrf", &csrf2)])
        .await;
    let p = approve(&other, &start, &d).await;
    assert_eq!(p.status, StatusCode::CONFLICT, "{}", p.body);
    assert!(p.text().contains("already linked to another account"));
    assert_eq!(linked_pk(&s, &other_id).await, None);

    // Unlink: a confirmation, then the CSRF-checked post.
    let confirm = b.get("/dashboard/account/authentiq/unlink").await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(confirm.text().contains(&d.pk));
    assert_strict_page(&confirm);
    let p = b
        .post(
            "/dashboard/account/authentiq/unlink",
            &[("csrf", "wrong"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let p = b
        .post("/dashboard/account/authentiq/unlink", &[("csrf", &csrf)])
        .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST, "no confirmation");
    assert!(linked_pk(&s, &id).await.is_some());
    let p = b
        .post(
            "/dashboard/account/authentiq/unlink",
            &[("csrf", &csrf), ("confirm", "yes")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(p.location(), "/dashboard/account?done=unlinked");
    assert_eq!(linked_pk(&s, &id).await, None);
    let fresh = Browser::new(&s);
    let p = approve(&fresh, &fresh.get("/dashboard/authentiq").await, &d).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN, "unlinked: {}", p.body);

    // A link flow finished by another account's session is refused.
    let start = b
        .post("/dashboard/account/authentiq", &[("csrf", &csrf)])
        .await;
    let started = open(&b, &start).await;
    answer(&s, &d, &started.sid, started.number, Decision::Approve).await;
    let callback = continue_to_callback(&b, &started.sid).await;
    let session = other.cookie("aq_dash").unwrap();
    b.set("aq_dash", &session);
    let p = b.get(&callback).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN, "{}", p.body);
    assert!(p.text().contains("started for another account"));
    assert_eq!(linked_pk(&s, &other_id).await, None);
    assert_eq!(linked_pk(&s, &id).await, None);
}

#[tokio::test]
async fn an_unanswered_sign_in_counts_as_expired_on_its_clients_page() {
    let s = TestServer::start().await;
    account(&s, "owner@example.com", false).await;
    let b = Browser::new(&s);
    let list = b.sign_in("owner@example.com").await;
    let (client_id, _, _) = create(&b, &list.csrf(), "Shop").await;
    // A sign-in is started at the client and never answered.
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", &client_id)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid")
        .append_pair("redirect_uri", "https://shop.example/cb")
        .append_pair("state", "s")
        .append_pair("nonce", "n")
        .append_pair(
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        )
        .append_pair("code_challenge_method", "S256")
        .finish();
    let user = Browser::new(&s);
    let res = user.get(&format!("/authorize?{q}")).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    // Not yet expired: not counted.
    let later = now() + 60;
    s.state
        .db
        .call(move |st| st.purge_expired(later))
        .await
        .unwrap();
    let page = b.get(&format!("/dashboard/clients/{client_id}")).await;
    assert!(page.text().contains("0 approved, 0 denied and 0 expired"));
    // Expired (the purge runs every minute): counted once.
    let expired_at = now() + 301;
    for _ in 0..2 {
        s.state
            .db
            .call(move |st| st.purge_expired(expired_at))
            .await
            .unwrap();
    }
    let page = b.get(&format!("/dashboard/clients/{client_id}")).await;
    let text = page.text();
    assert!(text.contains("Sign-in expired unanswered"), "{text}");
    assert_eq!(text.matches("Sign-in expired unanswered").count(), 1);
    // The chart counts today (unless the session expired after midnight).
    if expired_at / 86_400 == now() / 86_400 {
        assert!(
            text.contains("0 approved, 0 denied and 1 expired"),
            "{text}"
        );
        assert_eq!(page.body.matches("class=\"dash-bar-expired\"").count(), 1);
    }
}
