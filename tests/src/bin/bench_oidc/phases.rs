//! The phases that run against any OpenID provider, ours or the peer
//! (`--peer`): discovery, the JWKS, userinfo with a Bearer token, and the
//! refresh grant over rotating chains. Each reads the server's CPU from its
//! pid (ours: the pids of all its instances, summed), so both are measured
//! the same way; request i goes to the `i % n`-th of the URLs it is given
//! (ours: one per instance, as a round-robin load balancer would send them). Each phase first runs an
//! unmeasured tenth of its requests at the same concurrency ([`warmup`]):
//! Node.js compiles its hot paths on the way, and neither side should be
//! timed cold.

use std::sync::{Arc, Mutex};

use anyhow::{Context, anyhow};
use reqwest::StatusCode;

use crate::flow::{self, Rp};
use crate::instances::{self, CpuMark};
use crate::load;
use crate::report::Phase;
use crate::server::request_error;
use crate::summary::Tokens;

/// Where a provider's endpoints are, from its discovery document.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub discovery: String,
    pub jwks: String,
    pub userinfo: String,
    pub token: String,
}

impl Endpoints {
    pub async fn discover(http: &reqwest::Client, issuer: &str) -> anyhow::Result<Self> {
        let discovery = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let doc: serde_json::Value = http
            .get(&discovery)
            .send()
            .await
            .with_context(|| format!("GET {discovery}"))?
            .error_for_status()
            .with_context(|| format!("GET {discovery}"))?
            .json()
            .await
            .with_context(|| format!("GET {discovery}: not JSON"))?;
        let field = |name: &str| {
            doc[name]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| anyhow!("no {name} in {discovery}"))
        };
        Ok(Self {
            jwks: field("jwks_uri")?,
            userinfo: field("userinfo_endpoint")?,
            token: field("token_endpoint")?,
            discovery,
        })
    }

    /// The same endpoints (named on the public address `public`) on the
    /// instance at `base`.
    pub fn on(&self, public: &str, base: &str) -> Self {
        Self {
            discovery: instances::on(&self.discovery, public, base),
            jwks: instances::on(&self.jwks, public, base),
            userinfo: instances::on(&self.userinfo, public, base),
            token: instances::on(&self.token, public, base),
        }
    }
}

/// A client for the relying party's requests: no proxy, kept-alive connections.
pub fn rp_client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .user_agent("bench-oidc relying party")
        .timeout(std::time::Duration::from_secs(10))
        .connect_timeout(std::time::Duration::from_secs(5))
        .build()
        .context("cannot build the relying party's HTTP client")
}

/// Unmeasured requests before a phase of `n`.
pub fn warmup(n: usize) -> usize {
    n / 10
}

/// One GET phase: what to fetch (request i the `i % n`-th URL), and what
/// its answer must contain.
struct Get<'a> {
    label: String,
    urls: Vec<String>,
    bearer: Option<&'a str>,
    must: &'static str,
}

/// `n` GETs of `g.urls` at `concurrency`, each answered 200 with `g.must` in the body.
async fn get(
    http: &reqwest::Client,
    pids: &[u32],
    g: Get<'_>,
    n: usize,
    concurrency: usize,
) -> anyhow::Result<Phase> {
    let must = g.must;
    let urls = Arc::new(g.urls);
    let op = Arc::new({
        let (http, bearer) = (http.clone(), g.bearer.map(str::to_string));
        move |i: usize| {
            let (http, bearer) = (http.clone(), bearer.clone());
            let url = urls[i % urls.len().max(1)].clone();
            async move {
                let mut req = http.get(&url);
                if let Some(token) = &bearer {
                    req = req.bearer_auth(token);
                }
                let res = req.send().await.map_err(|e| request_error(&e))?;
                let status = res.status();
                let body = res.text().await.map_err(|e| request_error(&e))?;
                if status != StatusCode::OK || !body.contains(must) {
                    let head: String = body.chars().take(80).collect();
                    return Err(format!("HTTP {} {head}", status.as_u16()));
                }
                Ok(())
            }
        }
    });
    let warm = warmup(n);
    if warm > 0 {
        let op = Arc::clone(&op);
        load::run(
            &format!("{} warm-up", g.label),
            warm,
            concurrency,
            move |i| op(i),
        )
        .await?;
    }
    let mark = CpuMark::new(pids);
    let load = load::run(&g.label, n, concurrency, move |i| op(i)).await?;
    Ok(mark.phase(&g.label, &load))
}

/// The three GET phases: discovery, the JWKS (`jwks_uri`) and userinfo
/// with the live access token `access`, `n` requests each at `concurrency`,
/// spread over the instances' endpoints `eps`. The labels are the same for
/// every provider (the side-by-side table matches on them).
pub async fn gets(
    http: &reqwest::Client,
    pids: &[u32],
    eps: &[Endpoints],
    access: &str,
    n: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<Phase>> {
    let c = concurrency.max(1);
    let all = |f: fn(&Endpoints) -> &String| eps.iter().map(|e| f(e).clone()).collect();
    let specs = [
        Get {
            label: format!("GET discovery (c={c})"),
            urls: all(|e| &e.discovery),
            bearer: None,
            must: "\"issuer\"",
        },
        Get {
            label: format!("GET JWKS (c={c})"),
            urls: all(|e| &e.jwks),
            bearer: None,
            must: "\"keys\"",
        },
        Get {
            label: format!("GET userinfo, Bearer (c={c})"),
            urls: all(|e| &e.userinfo),
            bearer: Some(access),
            must: "\"sub\"",
        },
    ];
    let mut out = Vec::new();
    for g in specs {
        out.push(get(http, pids, g, n, c).await?);
    }
    Ok(out)
}

/// The label of a refresh phase (the same for every provider).
pub fn refresh_label(alg: &str, workers: usize) -> String {
    format!("POST /token refresh, {alg} (c={workers})")
}

/// `n` refresh grants of `client` (request i at the `i % n`-th of
/// `token_urls`, after a warm-up), one worker per chain in `chains` (each
/// takes a refresh token, redeems it, puts the new one back).
pub async fn refresh(
    http: &reqwest::Client,
    pids: &[u32],
    token_urls: &[String],
    client: &Rp,
    chains: Vec<String>,
    n: usize,
) -> anyhow::Result<Tokens> {
    let count = chains.len();
    let pool = Arc::new(Mutex::new(chains));
    let label = refresh_label(client.alg, count);
    let op = Arc::new({
        let (http, pool, client, urls) = (
            http.clone(),
            Arc::clone(&pool),
            client.clone(),
            token_urls.to_vec(),
        );
        move |i: usize| {
            let (http, pool, client) = (http.clone(), Arc::clone(&pool), client.clone());
            let url = urls[i % urls.len().max(1)].clone();
            async move {
                let token = pool
                    .lock()
                    .map_err(|_| "chain pool poisoned".to_string())?
                    .pop()
                    .ok_or("no refresh-token chain left")?;
                let res = http
                    .post(&url)
                    .basic_auth(&client.client_id, Some(&client.secret))
                    .form(&[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", token.as_str()),
                    ])
                    .send()
                    .await
                    .map_err(|e| request_error(&e))?;
                let status = res.status();
                let body = res.text().await.map_err(|e| request_error(&e))?;
                if status != StatusCode::OK {
                    let error = serde_json::from_str::<serde_json::Value>(&body)
                        .ok()
                        .and_then(|v| v["error"].as_str().map(str::to_string))
                        .unwrap_or_default();
                    return Err(format!("HTTP {} {error}", status.as_u16()));
                }
                let next = flow::check_tokens(&body, &client)?;
                pool.lock()
                    .map_err(|_| "chain pool poisoned".to_string())?
                    .push(next);
                Ok(())
            }
        }
    });
    // The warm-up moves the same chains on; a chain it loses is missing below.
    let warm = warmup(n);
    if warm > 0 {
        let op = Arc::clone(&op);
        load::run(&format!("{label} warm-up"), warm, count, move |i| op(i)).await?;
    }
    let mark = CpuMark::new(pids);
    let load = load::run(&label, n, count, move |i| op(i)).await?;
    let phase = mark.phase(&label, &load);
    let chains_left = pool.lock().map(|p| p.len()).unwrap_or(0);
    Ok(Tokens {
        phase,
        chains: count,
        chains_left,
    })
}
