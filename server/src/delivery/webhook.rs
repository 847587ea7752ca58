//! SMS through an HTTP gateway: `POST {"to": ..., "text": ...}`.

use std::fmt;
use std::time::Duration;

use reqwest::Url;
use serde::Serialize;

use super::{DeliveryError, Message, Sender};
use crate::config::SmsConfig;

/// How long the gateway may take to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Posts each message to `sms.webhook_url`.
pub struct WebhookSender {
    client: reqwest::Client,
    url: Url,
    token: Option<String>,
}

/// The URL may carry secrets in its path or query, and the token is one.
impl fmt::Debug for WebhookSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSender")
            .field("origin", &self.url.origin().ascii_serialization())
            .field("token", &self.token.as_ref().map(|_| "<hidden>"))
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Body<'a> {
    to: &'a str,
    text: &'a str,
}

impl WebhookSender {
    /// Checks `webhook_url`; connects only when sending.
    pub fn new(config: &SmsConfig) -> Result<Self, DeliveryError> {
        let url = config.webhook_url.as_deref().ok_or_else(|| {
            DeliveryError::Config("sms.mode = \"webhook\" needs sms.webhook_url".into())
        })?;
        let url = Url::parse(url)
            .map_err(|e| DeliveryError::Config(format!("sms.webhook_url is invalid: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(DeliveryError::Config(
                "sms.webhook_url must be an http or https URL".into(),
            ));
        }
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            // A redirect would be answered as a failure rather than re-sent
            // (with the token) somewhere else.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| DeliveryError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            client,
            url,
            token: config.webhook_token.clone(),
        })
    }
}

#[async_trait::async_trait]
impl Sender for WebhookSender {
    async fn send(&self, message: &Message) -> Result<(), DeliveryError> {
        let mut request = self.client.post(self.url.clone()).json(&Body {
            to: &message.to,
            text: &message.text,
        });
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        // Errors without the URL, which may hold secrets.
        let response = request
            .send()
            .await
            .map_err(|e| DeliveryError::Failed(format!("sms webhook: {}", e.without_url())))?;
        let status = response.status();
        if !status.is_success() {
            return Err(DeliveryError::Failed(format!(
                "sms webhook answered {status}"
            )));
        }
        tracing::info!("sms handed to the webhook");
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::{Arc, Mutex};

    use axum::Json;
    use axum::Router;
    use axum::http::{HeaderMap, StatusCode, header};
    use axum::routing::post;
    use tokio::net::TcpListener;

    use super::*;
    use crate::config::DeliveryMode;
    use crate::delivery::Channel;

    /// One request the test gateway received: its `Authorization` header and
    /// its JSON body.
    pub(crate) type Requests = Arc<Mutex<Vec<(Option<String>, serde_json::Value)>>>;

    /// A gateway on `127.0.0.1:0` that records each POST to `/sms` and
    /// answers `status`. Returns its URL.
    pub(crate) async fn gateway(status: StatusCode) -> (String, Requests) {
        let requests = Requests::default();
        let recorded = requests.clone();
        let app = Router::new().route(
            "/sms",
            post(
                move |headers: HeaderMap, Json(body): Json<serde_json::Value>| {
                    let recorded = recorded.clone();
                    async move {
                        let auth = headers
                            .get(header::AUTHORIZATION)
                            .map(|v| v.to_str().unwrap().to_owned());
                        recorded.lock().unwrap().push((auth, body));
                        (status, "gateway says: secret-internal-detail")
                    }
                },
            ),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (format!("http://{addr}/sms"), requests)
    }

    pub(crate) fn sms_config(url: &str, token: Option<&str>) -> SmsConfig {
        SmsConfig {
            mode: DeliveryMode::Webhook,
            webhook_url: Some(url.into()),
            webhook_token: token.map(str::to_owned),
        }
    }

    pub(crate) fn sms(to: &str) -> Message {
        Message {
            channel: Channel::Sms,
            to: to.into(),
            subject: "ignored".into(),
            text: "Authentiq code: 135790".into(),
        }
    }

    #[tokio::test]
    async fn posts_json_with_the_bearer_token() {
        let (url, requests) = gateway(StatusCode::OK).await;
        let sender = WebhookSender::new(&sms_config(&url, Some("s3cret-token"))).unwrap();
        sender.send(&sms("+31612345678")).await.unwrap();

        let requests = requests.lock().unwrap();
        assert_eq!(requests.len(), 1);
        let (auth, body) = &requests[0];
        assert_eq!(auth.as_deref(), Some("Bearer s3cret-token"));
        assert_eq!(
            body,
            &serde_json::json!({"to": "+31612345678", "text": "Authentiq code: 135790"})
        );
    }

    #[tokio::test]
    async fn without_a_token_sends_no_authorization() {
        let (url, requests) = gateway(StatusCode::ACCEPTED).await;
        let sender = WebhookSender::new(&sms_config(&url, None)).unwrap();
        sender.send(&sms("+15550100")).await.unwrap();

        let requests = requests.lock().unwrap();
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].0, None);
        assert_eq!(requests[0].1["to"], "+15550100");
    }

    #[tokio::test]
    async fn a_server_error_fails_with_the_status_not_the_body() {
        let (url, requests) = gateway(StatusCode::INTERNAL_SERVER_ERROR).await;
        let sender = WebhookSender::new(&sms_config(&url, Some("t"))).unwrap();
        let err = sender.send(&sms("+15550100")).await.unwrap_err();
        match err {
            DeliveryError::Failed(m) => {
                assert!(m.contains("500"), "{m}");
                assert!(!m.contains("secret-internal-detail"), "{m}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            requests.lock().unwrap().len(),
            1,
            "it did reach the gateway"
        );
    }

    #[tokio::test]
    async fn a_redirect_is_a_failure() {
        let (url, requests) = gateway(StatusCode::FOUND).await;
        let sender = WebhookSender::new(&sms_config(&url, Some("t"))).unwrap();
        let err = sender.send(&sms("+15550100")).await.unwrap_err();
        assert!(
            matches!(&err, DeliveryError::Failed(m) if m.contains("302")),
            "{err:?}"
        );
        assert_eq!(requests.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_closed_port_fails_without_showing_the_url() {
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            listener.local_addr().unwrap().port()
        };
        let url = format!("http://127.0.0.1:{port}/sms?key=query-secret");
        let sender = WebhookSender::new(&sms_config(&url, None)).unwrap();
        let err = sender.send(&sms("+15550100")).await.unwrap_err();
        match err {
            DeliveryError::Failed(m) => assert!(!m.contains("query-secret"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn misconfiguration_is_a_config_error() {
        let missing = SmsConfig {
            webhook_url: None,
            ..sms_config("", None)
        };
        for config in [
            missing,
            sms_config("not a url", None),
            sms_config("ftp://gateway.example/sms", None),
        ] {
            let result = WebhookSender::new(&config);
            assert!(
                matches!(result, Err(DeliveryError::Config(_))),
                "{config:?}: {result:?}"
            );
        }
    }

    #[test]
    fn debug_hides_the_token_and_the_path() {
        let sender = WebhookSender::new(&sms_config(
            "https://gw.example/hooks/path-secret",
            Some("tok-secret"),
        ))
        .unwrap();
        let shown = format!("{sender:?}");
        assert!(!shown.contains("tok-secret"), "{shown}");
        assert!(!shown.contains("path-secret"), "{shown}");
        assert!(shown.contains("gw.example"), "{shown}");
    }
}
