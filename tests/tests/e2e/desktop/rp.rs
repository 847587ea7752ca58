//! A browser for the demo relying party (of the provider in process,
//! `support/provider.rs`) made of an HTTP client with a cookie jar: it starts a sign-in
//! at `/demo/login`, reads the number on the sign-in page, presses "send to
//! my device", and afterwards follows the page's "continue" back to the
//! demo's `/demo/callback`, which exchanges the code and shows the claims.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use url::Url;

use crate::support::provider::Provider;

/// One sign-in started at the demo, up to "send to my device".
#[derive(Debug)]
pub struct SignIn {
    pub sid: String,
    /// The number the sign-in page shows.
    pub number: u16,
    browser: reqwest::Client,
}

/// Where the demo's sign-in ended.
#[derive(Debug)]
pub struct Outcome {
    /// Where the provider sent the browser (the demo's callback).
    pub redirect: Url,
    /// The claims the demo shows (from the ID token and userinfo).
    pub claims: BTreeMap<String, String>,
    /// The demo's error message, if it shows one.
    pub error: Option<String>,
}

impl Outcome {
    /// A parameter of the authorization response.
    pub fn param(&self, name: &str) -> Option<String> {
        self.redirect
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// The `sub` the demo got (shown among the claims).
    pub fn sub(&self) -> anyhow::Result<String> {
        self.claims.get("sub").cloned().ok_or_else(|| {
            anyhow!(
                "the demo shows no sub (redirect {}, claims {:?}, error {:?})",
                self.redirect,
                self.claims,
                self.error
            )
        })
    }
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let i = s.find(start)? + start.len();
    let j = s[i..].find(end)? + i;
    Some(&s[i..j])
}

/// A plausible desktop browser, so that the app has one to describe.
const USER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

async fn expect_redirect(res: reqwest::Response, what: &str) -> anyhow::Result<Url> {
    let url = res.url().clone();
    let status = res.status();
    if !status.is_redirection() {
        let body = res.text().await.unwrap_or_default();
        bail!("{what}: {url} answered {status}, not a redirect: {body:.400}");
    }
    let loc = res
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| anyhow!("{what}: {status} without a Location"))?;
    url.join(loc)
        .with_context(|| format!("{what}: a bad Location {loc:?}"))
}

impl SignIn {
    /// A new browser (its own cookies) goes to the demo's "Sign in with
    /// Authentiq", lands on the sign-in page, reads the number and asks for
    /// the request to be sent to `email`'s device.
    pub async fn start(p: &Provider, email: &str) -> anyhow::Result<Self> {
        let browser = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(USER_AGENT)
            .no_proxy()
            .timeout(Duration::from_secs(20))
            .build()?;
        let res = browser.get(format!("{}/demo/login", p.url)).send().await?;
        let authorize = expect_redirect(res, "GET /demo/login").await?;
        let res = browser.get(authorize.clone()).send().await?;
        let page = expect_redirect(res, "GET /authorize").await?;
        let sid = page
            .path()
            .strip_prefix("/sign-in/")
            .ok_or_else(|| anyhow!("/authorize sent the browser to {page}, not a sign-in page"))?
            .to_string();
        let res = browser.get(page.clone()).send().await?;
        if res.status() != StatusCode::OK {
            bail!("the sign-in page {page} answered {}", res.status());
        }
        let html = res.text().await?;
        let number = between(&html, "id=\"aq-number\">", "<")
            .and_then(|n| n.trim().parse().ok())
            .ok_or_else(|| anyhow!("no number on the sign-in page {page}"))?;
        let csrf = between(&html, "name=\"csrf\" value=\"", "\"")
            .ok_or_else(|| anyhow!("no csrf field on the sign-in page {page}"))?
            .to_string();
        let res = browser
            .post(format!("{}/sign-in/{sid}/push", p.url))
            .form(&[("email", email), ("csrf", csrf.as_str())])
            .send()
            .await?;
        if res.status() != StatusCode::OK {
            let status = res.status();
            let body = res.text().await.unwrap_or_default();
            bail!("\"send to my device\" for {email} answered {status}: {body:.400}");
        }
        Ok(Self {
            sid,
            number,
            browser,
        })
    }

    /// After the app answered: the page's "continue", back to the demo's
    /// callback, and what the demo shows there.
    pub async fn finish(&self, p: &Provider, artifact: &Path) -> anyhow::Result<Outcome> {
        let res = self
            .browser
            .get(format!("{}/sign-in/{}/continue", p.url, self.sid))
            .send()
            .await?;
        let redirect = expect_redirect(res, "GET /sign-in/{sid}/continue").await?;
        let res = self.browser.get(redirect.clone()).send().await?;
        if res.status() != StatusCode::OK {
            bail!("the demo's callback {redirect} answered {}", res.status());
        }
        let html = res.text().await?;
        let _ = std::fs::write(artifact, &html);
        let mut claims = BTreeMap::new();
        let mut rest = html.as_str();
        while let Some(i) = rest.find("<th scope=\"row\" class=\"claim-label\">") {
            rest = &rest[i..];
            let (Some(k), Some(v)) = (
                between(rest, "class=\"claim-label\">", "</th>"),
                between(rest, "<td>", "</td>"),
            ) else {
                break;
            };
            claims.insert(k.to_string(), v.to_string());
            rest = &rest[1..];
        }
        let error = between(&html, "role=\"alert\">", "<").map(str::to_string);
        Ok(Outcome {
            redirect,
            claims,
            error,
        })
    }
}
