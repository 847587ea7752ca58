//! Delivering verification codes: email and SMS, each through a [`Sender`].
//!
//! The default for both is the file [`outbox::Outbox`] in the data
//! directory, so a self-hoster without a mail server or SMS gateway can still
//! verify (and tests read codes from it). `email.mode = "smtp"` sends real
//! mail; `sms.mode = "webhook"` posts to an HTTP gateway.

pub mod outbox;
pub mod smtp;
pub mod webhook;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::config::Config;

/// Email or SMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Email,
    Sms,
}

/// One message to one recipient.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub channel: Channel,
    /// Email address or E.164 phone number.
    pub to: String,
    /// Email subject (ignored for SMS).
    pub subject: String,
    /// Plain text body.
    pub text: String,
}

/// The body holds a live code: never log it.
impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("channel", &self.channel)
            .field("to", &self.to)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("delivery is misconfigured: {0}")]
    Config(String),
    #[error("the message could not be delivered: {0}")]
    Failed(String),
}

/// Something that delivers messages.
#[async_trait::async_trait]
pub trait Sender: Send + Sync + fmt::Debug {
    async fn send(&self, message: &Message) -> Result<(), DeliveryError>;
}

/// The senders in use, chosen by configuration.
#[derive(Debug, Clone)]
pub struct Delivery {
    email: Arc<dyn Sender>,
    sms: Arc<dyn Sender>,
    outbox: Arc<outbox::Outbox>,
}

impl Delivery {
    /// The senders `config` asks for. The outbox in `config.data_dir` is
    /// always created: it is the default sender and takes test messages.
    pub fn from_config(config: &Config) -> Result<Self, DeliveryError> {
        use crate::config::DeliveryMode;

        // Check the modes before touching the file system.
        let email: Option<Arc<dyn Sender>> = match config.email.mode {
            DeliveryMode::Outbox => None,
            DeliveryMode::Smtp => Some(Arc::new(smtp::SmtpSender::new(&config.email)?)),
            DeliveryMode::Webhook => {
                return Err(DeliveryError::Config(
                    "email.mode must be \"outbox\" or \"smtp\"".into(),
                ));
            }
        };
        let sms: Option<Arc<dyn Sender>> = match config.sms.mode {
            DeliveryMode::Outbox => None,
            DeliveryMode::Webhook => Some(Arc::new(webhook::WebhookSender::new(&config.sms)?)),
            DeliveryMode::Smtp => {
                return Err(DeliveryError::Config(
                    "sms.mode must be \"outbox\" or \"webhook\"".into(),
                ));
            }
        };
        let outbox = Arc::new(open_outbox(&config.data_dir)?);
        Ok(Self {
            email: email.unwrap_or_else(|| outbox.clone()),
            sms: sms.unwrap_or_else(|| outbox.clone()),
            outbox,
        })
    }

    /// Delivers `message` through the sender for its channel.
    pub async fn send(&self, message: &Message) -> Result<(), DeliveryError> {
        match message.channel {
            Channel::Email => self.email.send(message).await,
            Channel::Sms => self.sms.send(message).await,
        }
    }

    /// Writes `message` to the outbox whatever the configuration: for test
    /// jobs, which never go out for real.
    pub async fn send_to_outbox(&self, message: &Message) -> Result<(), DeliveryError> {
        self.outbox.send(message).await
    }

    /// The outbox (always present).
    pub fn outbox(&self) -> &outbox::Outbox {
        &self.outbox
    }
}

fn open_outbox(data_dir: &Path) -> Result<outbox::Outbox, DeliveryError> {
    outbox::Outbox::new(data_dir).map_err(|e| {
        DeliveryError::Config(format!(
            "cannot create the outbox in {}: {e}",
            data_dir.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::http::StatusCode;

    use super::smtp::tests::{email, email_config, smtp_server};
    use super::webhook::tests::{gateway, sms, sms_config};
    use super::*;
    use crate::config::{DeliveryMode, EmailConfig, SmsConfig};

    fn config(data_dir: &Path) -> Config {
        Config {
            data_dir: data_dir.to_owned(),
            ..Config::default()
        }
    }

    #[tokio::test]
    async fn defaults_send_everything_to_the_outbox() {
        let data = tempfile::tempdir().unwrap();
        let delivery = Delivery::from_config(&config(data.path())).unwrap();
        assert_eq!(delivery.outbox().dir(), data.path().join("outbox"));
        assert!(delivery.outbox().dir().is_dir());

        delivery.send(&email("alice@example.com")).await.unwrap();
        delivery.send(&sms("+31612345678")).await.unwrap();
        let mail = delivery
            .outbox()
            .latest_to("alice@example.com")
            .unwrap()
            .unwrap();
        assert_eq!(mail.channel, Channel::Email);
        assert_eq!(mail.code().as_deref(), Some("246810"));
        let text = delivery
            .outbox()
            .latest_to("+31612345678")
            .unwrap()
            .unwrap();
        assert_eq!(text.channel, Channel::Sms);
        assert_eq!(text.code().as_deref(), Some("135790"));
    }

    #[tokio::test]
    async fn dispatches_by_channel_to_the_configured_senders() {
        let data = tempfile::tempdir().unwrap();
        let (smtp_url, received) = smtp_server().await;
        let (hook_url, requests) = gateway(StatusCode::OK).await;
        let config = Config {
            email: email_config(&smtp_url),
            sms: sms_config(&hook_url, Some("tok")),
            ..config(data.path())
        };
        let delivery = Delivery::from_config(&config).unwrap();

        delivery.send(&sms("+15550100")).await.unwrap();
        {
            let requests = requests.lock().unwrap();
            assert_eq!(requests.len(), 1);
            assert_eq!(requests[0].1["to"], "+15550100");
        }
        delivery.send(&email("bob@example.com")).await.unwrap();
        let received = tokio::time::timeout(Duration::from_secs(10), received)
            .await
            .unwrap()
            .unwrap();
        assert!(
            received.data.contains("To: bob@example.com"),
            "{}",
            received.data
        );
        assert_eq!(
            requests.lock().unwrap().len(),
            1,
            "email did not go to the webhook"
        );

        assert_eq!(delivery.outbox().latest_to("+15550100").unwrap(), None);
        assert_eq!(
            delivery.outbox().latest_to("bob@example.com").unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn send_to_outbox_never_goes_out() {
        let data = tempfile::tempdir().unwrap();
        let (hook_url, requests) = gateway(StatusCode::OK).await;
        let config = Config {
            // Nothing listens there: a real send would fail.
            email: email_config("smtp://127.0.0.1:1"),
            sms: sms_config(&hook_url, None),
            ..config(data.path())
        };
        let delivery = Delivery::from_config(&config).unwrap();
        delivery
            .send_to_outbox(&email("carol@example.com"))
            .await
            .unwrap();
        delivery.send_to_outbox(&sms("+15550199")).await.unwrap();
        assert!(requests.lock().unwrap().is_empty());
        let mail = delivery
            .outbox()
            .latest_to("carol@example.com")
            .unwrap()
            .unwrap();
        assert_eq!(mail.channel, Channel::Email);
        let text = delivery.outbox().latest_to("+15550199").unwrap().unwrap();
        assert_eq!(text.channel, Channel::Sms);

        let err = delivery
            .send(&email("carol@example.com"))
            .await
            .unwrap_err();
        assert!(matches!(err, DeliveryError::Failed(_)), "{err:?}");
    }

    #[test]
    fn each_misconfiguration_is_a_config_error() {
        let data = tempfile::tempdir().unwrap();
        let base = config(data.path());
        let cases = [
            (
                "email by webhook",
                Config {
                    email: EmailConfig {
                        mode: DeliveryMode::Webhook,
                        ..EmailConfig::default()
                    },
                    ..base.clone()
                },
            ),
            (
                "sms by smtp",
                Config {
                    sms: SmsConfig {
                        mode: DeliveryMode::Smtp,
                        ..SmsConfig::default()
                    },
                    ..base.clone()
                },
            ),
            (
                "smtp without url",
                Config {
                    email: EmailConfig {
                        mode: DeliveryMode::Smtp,
                        ..EmailConfig::default()
                    },
                    ..base.clone()
                },
            ),
            (
                "webhook without url",
                Config {
                    sms: SmsConfig {
                        mode: DeliveryMode::Webhook,
                        ..SmsConfig::default()
                    },
                    ..base.clone()
                },
            ),
            (
                "bad smtp url",
                Config {
                    email: email_config("mailto:someone"),
                    ..base.clone()
                },
            ),
            (
                "bad from",
                Config {
                    email: EmailConfig {
                        from: "nobody".into(),
                        ..email_config("smtp://localhost:25")
                    },
                    ..base.clone()
                },
            ),
            (
                "bad webhook url",
                Config {
                    sms: sms_config("gateway.example/sms", None),
                    ..base.clone()
                },
            ),
        ];
        for (name, config) in cases {
            let result = Delivery::from_config(&config);
            assert!(
                matches!(result, Err(DeliveryError::Config(_))),
                "{name}: {result:?}"
            );
        }
        assert!(
            !data.path().join("outbox").exists(),
            "a misconfiguration creates nothing"
        );
    }

    #[cfg(unix)]
    #[test]
    fn an_unusable_data_dir_is_a_config_error() {
        let data = tempfile::tempdir().unwrap();
        let file = data.path().join("a-file");
        std::fs::write(&file, b"").unwrap();
        let result = Delivery::from_config(&config(&file));
        assert!(
            matches!(result, Err(DeliveryError::Config(_))),
            "{result:?}"
        );
    }
}
