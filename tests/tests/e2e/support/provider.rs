//! The provider in process on 127.0.0.1:0 with a fresh data directory (its
//! outbox included), stopped when dropped.

use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use authentiq_server::AppState;
use authentiq_server::config::Config;
use authentiq_server::delivery::outbox::{Outbox, find_code};
use tokio::net::TcpListener;

pub struct Provider {
    pub url: String,
    pub state: AppState,
    pub dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Provider {
    /// With the default configuration changed by `configure`.
    pub async fn start_with(configure: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        // Bound first: the public URL (and the demo's redirect URI) needs
        // the port, and the demo calls this server's own /token over HTTP.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let mut config = Config {
            data_dir: dir.path().to_path_buf(),
            public_url: url.clone(),
            ..Config::default()
        };
        configure(&mut config);
        let state = AppState::open(config).unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(authentiq_server::serve(listener, state.clone(), async {
            let _ = rx.await;
        }));
        Self {
            url,
            state,
            dir,
            _stop: tx,
        }
    }

    /// With the demo relying party at `/demo`.
    pub async fn demo() -> Self {
        Self::demo_with(|_| {}).await
    }

    /// [`Provider::demo`], the configuration then changed by `configure`.
    pub async fn demo_with(configure: impl FnOnce(&mut Config)) -> Self {
        Self::start_with(|c| {
            c.demo = true;
            configure(c);
        })
        .await
    }

    /// The code in the latest email to `to`, waiting for it at most `within`.
    pub async fn emailed_code(&self, to: &str, within: Duration) -> anyhow::Result<String> {
        let outbox = Outbox::new(self.dir.path()).context("the outbox")?;
        let until = Instant::now() + within;
        loop {
            if let Some(msg) = outbox.latest_to(to).context("reading the outbox")? {
                return find_code(&msg.text)
                    .ok_or_else(|| anyhow!("no code in the email to {to}: {:?}", msg.text));
            }
            if Instant::now() > until {
                bail!(
                    "no email to {to} in the outbox ({}) within {within:?}",
                    outbox.dir().display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// What a scripted device needs of a server: where to reach it, the
/// public URL (the audience of channel tokens), its outbox and its clock.
pub trait Server {
    fn url(&self) -> &str;
    fn public_url(&self) -> &str {
        self.url()
    }
    fn outbox_dir(&self) -> &std::path::Path;
    fn now(&self) -> i64;
}

impl Server for Provider {
    fn url(&self) -> &str {
        &self.url
    }
    fn outbox_dir(&self) -> &std::path::Path {
        self.dir.path()
    }
    fn now(&self) -> i64 {
        self.state.now()
    }
}

pub fn now() -> i64 {
    authentiq_server::clock::Clock::default().now()
}
