//! The hub's signals between instances, over PostgreSQL's LISTEN/NOTIFY.
//!
//! One connection per instance listens on [`CHANNEL`] and sends this
//! instance's signals as notifications (`<instance>|<topic>`); those of the
//! other instances are raised here. A signal carries no data, only "re-read
//! this", so the worst a lost notification can do is delay a listener —
//! and none is lost silently: when the connection drops, every listener
//! here is woken once it is back (it may have missed some), and the others
//! are told to wake theirs (they may have missed ours).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, NoTls};

use super::{Hub, Topic};

/// The notification channel.
pub const CHANNEL: &str = "authentiq_hub";

/// The topic that means "wake everything".
const ALL: &str = "*";

/// How long to wait before connecting again after a failure.
const RETRY: Duration = Duration::from_secs(1);

/// A topic as a notification payload.
pub fn encode(topic: &Topic) -> String {
    match topic {
        Topic::Key(pk) => format!("k:{pk}"),
        Topic::Session(id) => format!("s:{id}"),
        Topic::Outgoing => "o".into(),
        Topic::Keys => "keys".into(),
    }
}

/// What a payload names: `None` for "everything" (or unknown payloads of
/// a newer version, which are treated the same way).
pub fn decode(payload: &str) -> Option<Topic> {
    if let Some(pk) = payload.strip_prefix("k:") {
        return Some(Topic::Key(pk.to_string()));
    }
    if let Some(id) = payload.strip_prefix("s:") {
        return Some(Topic::Session(id.to_string()));
    }
    match payload {
        "o" => Some(Topic::Outgoing),
        "keys" => Some(Topic::Keys),
        _ => None,
    }
}

/// Relays `hub`'s signals through the database at `url` for as long as the
/// returned task runs (the server aborts it when it stops).
pub fn start(hub: Arc<Hub>, url: String) -> tokio::task::JoinHandle<()> {
    let (tx, rx) = mpsc::unbounded_channel();
    if !hub.relay_to(tx) {
        tracing::warn!("the hub is already relayed");
    }
    let instance = crate::secrets::new_job_id();
    tokio::spawn(run(hub, url, instance, rx))
}

async fn run(
    hub: Arc<Hub>,
    url: String,
    instance: String,
    mut outbox: mpsc::UnboundedReceiver<Topic>,
) {
    let mut first = true;
    loop {
        match session(&hub, &url, &instance, &mut outbox, first).await {
            Ok(Ended::Stopping) => return,
            Ok(Ended::Disconnected) => {
                tracing::warn!("lost the PostgreSQL notification connection; reconnecting");
            }
            Err(e) => {
                tracing::warn!(error = %e, "PostgreSQL notifications failed; reconnecting");
            }
        }
        first = false;
        tokio::time::sleep(RETRY).await;
    }
}

/// How a connection's life ended.
enum Ended {
    /// The server is stopping (the hub is gone).
    Stopping,
    /// The connection closed.
    Disconnected,
}

/// One connection's life: listen, announce, relay both ways until it fails.
async fn session(
    hub: &Hub,
    url: &str,
    instance: &str,
    outbox: &mut mpsc::UnboundedReceiver<Topic>,
    first: bool,
) -> Result<Ended, tokio_postgres::Error> {
    let (client, mut connection) = tokio_postgres::connect(url, NoTls).await?;
    let (incoming_tx, mut incoming) = mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(n)) => {
                    if incoming_tx.send(n.payload().to_string()).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "PostgreSQL notification connection failed");
                    break;
                }
            }
        }
    });
    let result = async {
        client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
        if !first {
            // Signals may have been missed both ways while disconnected.
            hub.signal_all_here();
            notify(&client, instance, ALL).await?;
        }
        let own = format!("{instance}|");
        loop {
            tokio::select! {
                topic = outbox.recv() => match topic {
                    Some(topic) => notify(&client, instance, &encode(&topic)).await?,
                    None => return Ok(Ended::Stopping),
                },
                payload = incoming.recv() => match payload {
                    Some(p) if p.starts_with(&own) => {}
                    Some(p) => match decode(p.split_once('|').map_or(p.as_str(), |(_, t)| t)) {
                        Some(topic) => hub.signal_here(&topic),
                        None => hub.signal_all_here(),
                    },
                    None => return Ok(Ended::Disconnected),
                },
            }
        }
    }
    .await;
    driver.abort();
    result
}

/// Tells every instance on the database at `url` that `topic` changed,
/// from outside a server (the command line).
pub async fn announce(url: &str, topic: &Topic) -> Result<(), tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    let driver = tokio::spawn(connection);
    let result = notify(&client, "cli", &encode(topic)).await;
    drop(client);
    let _ = driver.await;
    result
}

async fn notify(
    client: &tokio_postgres::Client,
    instance: &str,
    topic: &str,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "SELECT pg_notify($1, $2)",
            &[&CHANNEL, &format!("{instance}|{topic}")],
        )
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code
    use super::*;

    async fn woken(w: &mut super::super::Watch<'_>) -> bool {
        tokio::time::timeout(Duration::from_secs(5), w.changed())
            .await
            .is_ok()
    }

    async fn quiet(w: &mut super::super::Watch<'_>) -> bool {
        tokio::time::timeout(Duration::from_millis(300), w.changed())
            .await
            .is_err()
    }

    /// Until the relay listens (its LISTEN runs after start returns).
    async fn until_relayed(from: &Hub, to: &Hub) {
        let mut probe = to.watch(Topic::Keys);
        for _ in 0..100 {
            from.signal(&Topic::Keys);
            if tokio::time::timeout(Duration::from_millis(100), probe.changed())
                .await
                .is_ok()
            {
                return;
            }
        }
        panic!("the relay never connected");
    }

    #[tokio::test]
    async fn signals_cross_instances_and_survive_a_lost_connection() {
        let url = crate::store::pg_cluster::fresh_database().unwrap();
        let (a, b) = (Arc::new(Hub::default()), Arc::new(Hub::default()));
        let _ra = start(Arc::clone(&a), url.clone());
        let _rb = start(Arc::clone(&b), url.clone());
        until_relayed(&a, &b).await;
        until_relayed(&b, &a).await;

        let mut on_b = b.watch(Topic::Key("k1".into()));
        let mut other_on_b = b.watch(Topic::Key("k2".into()));
        let mut on_a = a.watch(Topic::Key("k1".into()));
        a.signal(&Topic::Key("k1".into()));
        assert!(woken(&mut on_a).await, "locally");
        assert!(woken(&mut on_b).await, "on the other instance");
        assert!(quiet(&mut other_on_b).await, "only that topic");
        assert!(
            quiet(&mut on_a).await,
            "its own notification is not raised twice"
        );

        // B's connection is cut: once back, B wakes all of its listeners
        // and tells A to wake all of its own.
        let url2 = url.clone();
        tokio::task::spawn_blocking(move || {
            let mut c = postgres::Client::connect(&url2, postgres::NoTls).unwrap();
            c.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE query LIKE 'LISTEN%' OR query LIKE 'SELECT pg_notify%'",
                &[],
            )
            .unwrap();
        })
        .await
        .unwrap();
        assert!(woken(&mut other_on_b).await, "B re-reads after the gap");
        assert!(woken(&mut on_a).await, "A is told to re-read too");
        b.signal(&Topic::Key("k1".into()));
        assert!(woken(&mut on_a).await, "B relays again");
    }

    #[test]
    fn topics_round_trip_through_payloads() {
        for topic in [
            Topic::Key("AQ1-abc".into()),
            Topic::Session("s-1:x".into()),
            Topic::Outgoing,
            Topic::Keys,
        ] {
            assert_eq!(decode(&encode(&topic)), Some(topic));
        }
        assert_eq!(decode(ALL), None);
        assert_eq!(decode("from-a-newer-version"), None);
    }
}
