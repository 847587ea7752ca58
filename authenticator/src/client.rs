//! The server's HTTP API as the app uses it.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

/// What went wrong talking to the server, with the server's own words.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the server at {url}: {reason}")]
    Network { url: String, reason: String },
    #[error("{title} ({status}): {detail}")]
    Refused {
        status: u16,
        /// The problem `type`, e.g. `wrong-number`.
        kind: String,
        title: String,
        detail: String,
    },
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
    /// The server's address itself is not usable (see [`check_transport`]).
    #[error("{0}")]
    BadServerUrl(String),
}

impl ClientError {
    pub fn kind(&self) -> Option<&str> {
        match self {
            ClientError::Refused { kind, .. } => Some(kind),
            _ => None,
        }
    }
}

/// Whether the app may talk to `url`: over https, or plain http only to
/// this machine (loopback: a local or test server). Over plain http anyone
/// on the network could read the channel token and the verified claims,
/// and forge the server's events. `Err` says why not.
pub fn check_transport(url: &url::Url) -> Result<(), String> {
    match url.scheme() {
        "https" => Ok(()),
        "http" => {
            let loopback = match url.host() {
                Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            };
            if loopback {
                Ok(())
            } else {
                Err("use https:// (plain http:// only for a server on this computer)".into())
            }
        }
        other => Err(format!("use https://, not {other}:")),
    }
}

#[derive(Debug, Clone)]
pub struct ServerClient {
    base: String,
    http: reqwest::Client,
}

const JWT: &str = "application/jwt";

impl ServerClient {
    pub fn new(base: &str) -> Result<Self, ClientError> {
        let base = base.trim_end_matches('/').to_string();
        let url = url::Url::parse(&base)
            .map_err(|e| ClientError::BadServerUrl(format!("server URL {base}: {e}")))?;
        check_transport(&url)
            .map_err(|why| ClientError::BadServerUrl(format!("server URL {base}: {why}")))?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!(
                "authentiq-authenticator/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        Ok(Self { base, http })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn network(&self, e: reqwest::Error) -> ClientError {
        ClientError::Network {
            url: self.base.clone(),
            reason: e.without_url().to_string(),
        }
    }

    /// Turns a non-2xx answer into [`ClientError::Refused`].
    async fn check(&self, res: reqwest::Response) -> Result<reqwest::Response, ClientError> {
        if res.status().is_success() {
            return Ok(res);
        }
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        let text = |k: &str| {
            body.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        Err(ClientError::Refused {
            status,
            kind: body
                .get("type")
                .or_else(|| body.get("error"))
                .and_then(Value::as_str)
                .unwrap_or("error")
                .to_string(),
            title: Some(text("title"))
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| {
                    StatusCode::from_u16(status)
                        .map(|s| s.to_string())
                        .unwrap_or_default()
                }),
            detail: Some(text("detail"))
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| text("error_description")),
        })
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, ClientError> {
        let res = req
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| self.network(e))?;
        self.check(res).await
    }

    async fn json(&self, req: reqwest::RequestBuilder) -> Result<Value, ClientError> {
        self.send(req)
            .await?
            .json()
            .await
            .map_err(|e| ClientError::Protocol(e.to_string()))
    }

    fn post_jwt(&self, path: &str, token: String) -> reqwest::RequestBuilder {
        self.http
            .post(self.url(path))
            .header("content-type", JWT)
            .body(token)
    }

    /// `POST /key`: returns the revocation secret.
    pub async fn register(&self, token: String) -> Result<String, ClientError> {
        let v = self.json(self.post_jwt("/key", token)).await?;
        v["secret"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| ClientError::Protocol("no revocation secret in the answer".into()))
    }

    /// `POST /scope`: returns the job id.
    pub async fn claim(&self, token: String, test: bool) -> Result<String, ClientError> {
        let path = if test { "/scope?test=1" } else { "/scope" };
        let v = self.json(self.post_jwt(path, token)).await?;
        v["job"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| ClientError::Protocol("no job in the answer".into()))
    }

    /// `POST /scope/{job}` with the code.
    pub async fn confirm(&self, job: &str, code: &str) -> Result<(), ClientError> {
        self.send(
            self.http
                .post(self.url(&format!("/scope/{job}")))
                .form(&[("code", code)]),
        )
        .await
        .map(|_| ())
    }

    /// `GET /scope/{job}`: the grant once signed, `None` while waiting.
    pub async fn grant(&self, job: &str) -> Result<Option<String>, ClientError> {
        let res = self
            .send(
                self.http
                    .get(self.url(&format!("/scope/{job}")))
                    .header("accept", JWT),
            )
            .await?;
        if res.status() != StatusCode::OK {
            return Ok(None);
        }
        res.text()
            .await
            .map(Some)
            .map_err(|e| ClientError::Protocol(e.to_string()))
    }

    pub async fn bind(&self, pk: &str, token: String) -> Result<(), ClientError> {
        self.send(
            self.http
                .put(self.url(&format!("/key/{pk}")))
                .header("content-type", JWT)
                .body(token),
        )
        .await
        .map(|_| ())
    }

    /// `GET /key/{PK}`.
    pub async fn key(&self, pk: &str) -> Result<Value, ClientError> {
        self.json(self.http.get(self.url(&format!("/key/{pk}"))))
            .await
    }

    /// `DELETE /key/{PK}` with the revocation secret as a bearer token (a
    /// sensitive header: not in the URL, so not in the server's or a
    /// proxy's access log).
    pub async fn revoke(&self, pk: &str, secret: &str) -> Result<(), ClientError> {
        self.send(
            self.http
                .delete(self.url(&format!("/key/{pk}")))
                .bearer_auth(secret),
        )
        .await
        .map(|_| ())
    }

    /// `POST /key/{PK}/signout` with the self-signed sign-out token: ends
    /// every SSO session and refresh-token family of the key. Returns how
    /// many clients the server told over the back channel.
    pub async fn sign_out_everywhere(&self, pk: &str, token: String) -> Result<u64, ClientError> {
        let v = self
            .json(self.post_jwt(&format!("/key/{pk}/signout"), token))
            .await?;
        if v["status"] != "done" {
            return Err(ClientError::Protocol(format!(
                "the sign-out answer is not done: {v}"
            )));
        }
        v["clients_told"]
            .as_u64()
            .ok_or_else(|| ClientError::Protocol("no clients_told in the sign-out answer".into()))
    }

    /// `DELETE /key?email&phone[&code]`: `pending` or `done`.
    pub async fn revoke_by_email(
        &self,
        email: &str,
        phone: &str,
        code: Option<&str>,
    ) -> Result<String, ClientError> {
        let mut q = vec![("email", email), ("phone", phone)];
        if let Some(c) = code {
            q.push(("code", c));
        }
        let v = self
            .json(self.http.delete(self.url("/key")).query(&q))
            .await?;
        Ok(v["status"].as_str().unwrap_or_default().to_string())
    }

    /// `url` as given when absolute (a pairing or recovery URL the server
    /// handed out), else a path on the server.
    fn absolute(&self, url: &str) -> String {
        if url.starts_with("https://") || url.starts_with("http://") {
            url.to_string()
        } else {
            self.url(url)
        }
    }

    /// Sends a signed `token` to `url` by `method` (with the bearer, when
    /// given): the JSON answer.
    pub async fn jwt_call(
        &self,
        method: reqwest::Method,
        url: &str,
        token: String,
        bearer: Option<&str>,
    ) -> Result<Value, ClientError> {
        let mut req = self
            .http
            .request(method, self.absolute(url))
            .header("content-type", JWT)
            .body(token);
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        self.json(req).await
    }

    /// `GET url`: the JSON answer.
    pub async fn get_json(&self, url: &str) -> Result<Value, ClientError> {
        self.json(self.http.get(self.absolute(url))).await
    }

    /// The issuer's published keys.
    pub async fn jwks(&self) -> Result<Value, ClientError> {
        self.json(self.http.get(self.url("/jwks"))).await
    }

    /// The signed request behind a sign-in session URI (from a QR code or deep link).
    pub async fn fetch_request(&self, session: &str) -> Result<String, ClientError> {
        self.send(self.http.get(session).header("accept", JWT))
            .await?
            .text()
            .await
            .map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// Posts the signed answer to the session URI.
    pub async fn answer(&self, session: &str, token: String) -> Result<Value, ClientError> {
        self.json(
            self.http
                .post(session)
                .header("content-type", JWT)
                .body(token),
        )
        .await
    }

    /// Opens the device channel (a streaming response).
    pub async fn channel(
        &self,
        token: &str,
        last_event_id: i64,
    ) -> Result<reqwest::Response, ClientError> {
        let res = self
            .http
            .get(self.url("/channel"))
            .bearer_auth(token)
            .header("last-event-id", last_event_id.to_string())
            .header("accept", "text/event-stream")
            .send()
            .await
            .map_err(|e| self.network(e))?;
        self.check(res).await
    }
}

#[cfg(test)]
pub(crate) mod test_http {
    //! One HTTP exchange with a listener on 127.0.0.1, for unit tests.

    use super::{ClientError, ServerClient};

    /// A listener on 127.0.0.1 for one request: its base URL, and the task
    /// that gives what the request looked like (its head, and its body as
    /// `content-length` says) after answering it with `answer` (a whole
    /// raw HTTP response).
    pub(crate) async fn serve_one(
        answer: String,
    ) -> (String, tokio::task::JoinHandle<(String, String)>) {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 1024];
            let end = loop {
                if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                    break i + 4;
                }
                let n = conn.read(&mut buf).await.unwrap();
                assert!(n > 0, "closed mid-request");
                got.extend_from_slice(&buf[..n]);
            };
            let head = String::from_utf8(got[..end].to_vec()).unwrap();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            while got.len() < end + length {
                let n = conn.read(&mut buf).await.unwrap();
                assert!(n > 0, "closed mid-body");
                got.extend_from_slice(&buf[..n]);
            }
            conn.write_all(answer.as_bytes()).await.unwrap();
            let body = String::from_utf8(got[end..].to_vec()).unwrap();
            (head, body)
        });
        (url, server)
    }

    /// `call` with a client of a [`serve_one`] listener: the request's head
    /// and body, and what `call` returned.
    pub(crate) async fn one_request_answered<T>(
        answer: String,
        call: impl AsyncFnOnce(ServerClient) -> Result<T, ClientError>,
    ) -> (String, String, Result<T, ClientError>) {
        let (url, server) = serve_one(answer).await;
        let result = call(ServerClient::new(&url).unwrap()).await;
        let (head, body) = server.await.unwrap();
        (head, body, result)
    }

    /// A whole raw HTTP response with `body`.
    pub(crate) fn http(status: &str, content_type: &str, body: &str) -> String {
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::test_http::{http, one_request_answered};
    use super::*;

    fn ok(s: &str) -> bool {
        check_transport(&url::Url::parse(s).unwrap()).is_ok()
    }

    #[test]
    fn https_anywhere_plain_http_only_on_this_computer() {
        assert!(ok("https://id.example.com"));
        assert!(ok("https://203.0.113.9:8443"));
        assert!(ok("http://127.0.0.1:8080"));
        assert!(ok("http://127.8.9.10"));
        assert!(ok("http://[::1]:8080"));
        assert!(ok("http://localhost:8080"));
        assert!(ok("http://LOCALHOST"));
        assert!(!ok("http://id.example.com"));
        assert!(!ok("http://192.168.1.10:8080"));
        assert!(!ok("http://localhost.evil.example"));
        assert!(!ok("http://[::ffff:10.0.0.1]"));
        assert!(!ok("ftp://id.example.com"));
        assert!(ServerClient::new("http://id.example.com").is_err());
        assert!(ServerClient::new("https://id.example.com/").is_ok());
    }

    /// [`one_request_answered`] with `204 No Content`, the head only.
    async fn one_request(
        call: impl AsyncFnOnce(ServerClient) -> Result<(), ClientError>,
    ) -> (String, Result<(), ClientError>) {
        let (head, _, result) = one_request_answered(
            "HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n".into(),
            call,
        )
        .await;
        (head, result)
    }

    #[tokio::test]
    async fn the_revocation_secret_goes_in_the_authorization_header_not_the_url() {
        let (head, result) = one_request(async |c| c.revoke("PK", "s3cr3t-value").await).await;
        result.unwrap();
        let mut lines = head.lines();
        assert_eq!(lines.next(), Some("DELETE /key/PK HTTP/1.1"), "{head}");
        assert!(
            lines.any(|l| l.eq_ignore_ascii_case("authorization: Bearer s3cr3t-value")),
            "{head}"
        );
        assert_eq!(head.matches("s3cr3t-value").count(), 1, "{head}");
    }

    #[tokio::test]
    async fn sign_out_everywhere_posts_the_token_as_a_jwt_and_reads_clients_told() {
        let ok = http(
            "200 OK",
            "application/json",
            r#"{"status":"done","clients_told":2}"#,
        );
        let (head, body, result) = one_request_answered(ok, async |c| {
            c.sign_out_everywhere("PK", "h.p.s".into()).await
        })
        .await;
        assert_eq!(result.unwrap(), 2);
        let mut lines = head.lines();
        assert_eq!(
            lines.next(),
            Some("POST /key/PK/signout HTTP/1.1"),
            "{head}"
        );
        assert!(
            head.lines()
                .any(|l| l.eq_ignore_ascii_case("content-type: application/jwt")),
            "{head}"
        );
        assert_eq!(body, "h.p.s");
    }

    const PROBLEM: &str = "application/problem+json";

    #[tokio::test]
    async fn sign_out_everywhere_refused_carries_the_problem() {
        for (raw, status, kind) in [
            (
                http(
                    "401 Unauthorized",
                    PROBLEM,
                    r#"{"error":401,"type":"auth-error","title":"Authentication error","detail":"this token was already used"}"#,
                ),
                401,
                "auth-error",
            ),
            (
                http(
                    "404 Not Found",
                    PROBLEM,
                    r#"{"error":404,"type":"unknown-key","title":"Unknown key","detail":"no such key"}"#,
                ),
                404,
                "unknown-key",
            ),
            (
                http(
                    "410 Gone",
                    PROBLEM,
                    r#"{"error":410,"type":"revoked-key","title":"Key is revoked","detail":"this Authentiq ID was revoked"}"#,
                ),
                410,
                "revoked-key",
            ),
        ] {
            let (_, _, result) = one_request_answered(raw.clone(), async |c| {
                c.sign_out_everywhere("PK", "h.p.s".into()).await
            })
            .await;
            match result {
                Err(ClientError::Refused {
                    status: s,
                    kind: k,
                    detail,
                    ..
                }) => {
                    assert_eq!((s, k.as_str()), (status, kind));
                    assert!(!detail.is_empty());
                }
                other => panic!("{status}: {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn sign_out_everywhere_without_a_count_is_a_protocol_error() {
        for raw in [
            http("200 OK", "application/json", r#"{"status":"done"}"#),
            http(
                "200 OK",
                "application/json",
                r#"{"status":"pending","clients_told":1}"#,
            ),
            http("200 OK", "text/plain", "done"),
        ] {
            let (_, _, result) = one_request_answered(raw.clone(), async |c| {
                c.sign_out_everywhere("PK", "h.p.s".into()).await
            })
            .await;
            assert!(
                matches!(result, Err(ClientError::Protocol(_))),
                "{raw}: {result:?}"
            );
        }
    }
}
