//! Email through an SMTP server (lettre, rustls).

use std::fmt;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::{DeliveryError, Message, Sender};
use crate::config::EmailConfig;

/// How long one SMTP command may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Sends email through the server in `email.smtp_url`.
pub struct SmtpSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

/// The transport holds the SMTP credentials: never show it.
impl fmt::Debug for SmtpSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSender")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpSender {
    /// Checks `smtp_url` and `from`; connects only when sending.
    pub fn new(config: &EmailConfig) -> Result<Self, DeliveryError> {
        let url = config.smtp_url.as_deref().ok_or_else(|| {
            DeliveryError::Config("email.mode = \"smtp\" needs email.smtp_url".into())
        })?;
        // lettre's URL errors do not repeat the URL, so no credentials leak.
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| DeliveryError::Config(format!("email.smtp_url is invalid: {e}")))?
            .timeout(Some(TIMEOUT))
            .build();
        let from = config.from.parse::<Mailbox>().map_err(|e| {
            DeliveryError::Config(format!("email.from {:?} is invalid: {e}", config.from))
        })?;
        Ok(Self { transport, from })
    }
}

#[async_trait::async_trait]
impl Sender for SmtpSender {
    async fn send(&self, message: &Message) -> Result<(), DeliveryError> {
        let to = message
            .to
            .parse::<Mailbox>()
            .map_err(|e| DeliveryError::Failed(format!("invalid recipient address: {e}")))?;
        let email = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.as_str())
            .header(ContentType::TEXT_PLAIN)
            .body(message.text.clone())
            .map_err(|e| DeliveryError::Failed(format!("cannot build the email: {e}")))?;
        self.transport
            .send(email)
            .await
            .map_err(|e| DeliveryError::Failed(format!("smtp: {e}")))?;
        tracing::info!("email sent over smtp");
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::DeliveryMode;
    use crate::delivery::Channel;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpListener;
    use tokio::sync::oneshot;

    /// What the test SMTP server received in one session.
    #[derive(Debug, Default)]
    pub(crate) struct Received {
        pub(crate) commands: Vec<String>,
        pub(crate) data: String,
    }

    /// A one-connection SMTP server on `127.0.0.1:0` that accepts anything.
    /// Returns its `smtp://` URL and what it will have received.
    pub(crate) async fn smtp_server() -> (String, oneshot::Receiver<Received>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel();
        tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            let (read, mut write) = socket.into_split();
            let mut lines = BufReader::new(read);
            let mut received = Received::default();
            write.write_all(b"220 test ESMTP ready\r\n").await.unwrap();
            let mut line = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await.unwrap() == 0 {
                    break;
                }
                let command = line.trim_end().to_owned();
                let verb = command
                    .split(' ')
                    .next()
                    .unwrap_or_default()
                    .to_ascii_uppercase();
                received.commands.push(command);
                let reply: &[u8] = match verb.as_str() {
                    "EHLO" | "HELO" => b"250 test\r\n",
                    "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 OK\r\n",
                    "DATA" => {
                        write.write_all(b"354 go ahead\r\n").await.unwrap();
                        while !received.data.ends_with("\r\n.\r\n") {
                            if lines.read_line(&mut received.data).await.unwrap() == 0 {
                                break;
                            }
                        }
                        b"250 queued\r\n"
                    }
                    "QUIT" => {
                        write.write_all(b"221 bye\r\n").await.unwrap();
                        break;
                    }
                    _ => b"502 not implemented\r\n",
                };
                write.write_all(reply).await.unwrap();
            }
            let _ = tx.send(received);
        });
        (format!("smtp://{addr}"), rx)
    }

    pub(crate) fn email_config(smtp_url: &str) -> EmailConfig {
        EmailConfig {
            mode: DeliveryMode::Smtp,
            smtp_url: Some(smtp_url.into()),
            from: "Authentiq <no-reply@id.example>".into(),
        }
    }

    pub(crate) fn email(to: &str) -> Message {
        Message {
            channel: Channel::Email,
            to: to.into(),
            subject: "Your Authentiq code".into(),
            text: "Your code is 246810. It expires in 10 minutes.".into(),
        }
    }

    #[tokio::test]
    async fn sends_mail_to_an_smtp_server() {
        let (url, received) = smtp_server().await;
        let sender = SmtpSender::new(&email_config(&url)).unwrap();
        sender.send(&email("alice@example.com")).await.unwrap();
        let received = tokio::time::timeout(Duration::from_secs(10), received)
            .await
            .unwrap()
            .unwrap();

        let commands = received.commands.join("\n");
        assert!(received.commands[0].starts_with("EHLO "), "{commands}");
        assert!(
            commands.contains("MAIL FROM:<no-reply@id.example>"),
            "{commands}"
        );
        assert!(
            commands.contains("RCPT TO:<alice@example.com>"),
            "{commands}"
        );
        assert!(commands.contains("DATA"), "{commands}");

        let data = &received.data;
        assert!(data.ends_with("\r\n.\r\n"), "{data}");
        assert!(data.contains("To: alice@example.com"), "{data}");
        assert!(
            data.contains("From: Authentiq <no-reply@id.example>"),
            "{data}"
        );
        assert!(data.contains("Subject: Your Authentiq code"), "{data}");
        assert!(
            data.contains("Your code is 246810. It expires in 10 minutes."),
            "{data}"
        );
        assert!(data.contains("Content-Type: text/plain"), "{data}");
    }

    #[tokio::test]
    async fn a_closed_port_fails() {
        // Bind then drop: nothing listens on the port any more.
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            listener.local_addr().unwrap().port()
        };
        let sender = SmtpSender::new(&email_config(&format!("smtp://127.0.0.1:{port}"))).unwrap();
        let err = sender.send(&email("alice@example.com")).await.unwrap_err();
        assert!(matches!(err, DeliveryError::Failed(_)), "{err:?}");
    }

    #[tokio::test]
    async fn an_invalid_recipient_fails_without_connecting() {
        let sender = SmtpSender::new(&email_config("smtp://127.0.0.1:1")).unwrap();
        let err = sender.send(&email("not an address")).await.unwrap_err();
        match err {
            DeliveryError::Failed(m) => assert!(m.contains("recipient"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn misconfiguration_is_a_config_error() {
        let missing = EmailConfig {
            smtp_url: None,
            ..email_config("")
        };
        let bad_url = email_config("ftp://user:hunter2@mail.example");
        let bad_from = EmailConfig {
            from: "not a mailbox".into(),
            ..email_config("smtp://localhost:25")
        };
        for config in [missing, bad_url, bad_from] {
            match SmtpSender::new(&config) {
                Err(DeliveryError::Config(m)) => assert!(!m.contains("hunter2"), "{m}"),
                other => panic!("{config:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn debug_hides_the_credentials() {
        let sender = SmtpSender::new(&email_config("smtps://user:hunter2@mail.example")).unwrap();
        let shown = format!("{sender:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("no-reply@id.example"), "{shown}");
    }
}
