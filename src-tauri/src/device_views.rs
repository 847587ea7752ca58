//! What the front end sees of the ID's devices (the contract's types):
//! the device list, a link or recovery in progress on this computer, and
//! the requests other devices make of this one. Pure functions, tested here.

use authentiq_authenticator::notifier::DeviceNotice;
use authentiq_protocol::devices::{LinkRequestEvent, RecoveryStarted};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `DeviceInfo`: one device of the ID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    pub device: String,
    pub name: String,
    pub added_at: i64,
    /// `null` when it has not signed anything since it was added.
    #[serde(default)]
    pub last_used_at: Option<i64>,
}

/// What `devices()` answers: the ID's devices and which one is this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceList {
    pub devices: Vec<DeviceInfo>,
    pub this_device: String,
}

impl DeviceList {
    /// From the server's answer to `Authenticator::devices`.
    pub fn from_answer(v: Value) -> Result<Self, String> {
        serde_json::from_value(v)
            .map_err(|e| format!("the server's device list is not readable: {e}"))
    }
}

/// `Linking`: this computer waits for another device to approve it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkingView {
    /// The pairing's URL.
    pub pairing: String,
    /// The number to pick on the other device.
    pub number: u16,
    /// The pairing URL as an SVG QR code.
    pub qr_svg: String,
}

/// `Recovering`: this computer is recovering an ID; until it completes
/// its key works nowhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecoveringView {
    /// The recovery's URL.
    pub recovery: String,
    /// Once the codes are confirmed: when it can complete, Unix seconds.
    pub completes_at: Option<i64>,
    /// A code was sent to the phone too.
    pub phone_needed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceRequestKind {
    Link,
    Recovery,
}

/// `DeviceRequest`: another device asks this one — to be linked to the
/// ID, or (a recovery) tells it the ID is being recovered elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceRequest {
    pub kind: DeviceRequestKind,
    /// The pairing URL (a link) or the recovery URL.
    pub url: String,
    /// The new device's key.
    pub device: String,
    pub name: String,
    pub ip: String,
    pub user_agent: Option<String>,
    /// A link request's three candidates.
    pub numbers: Option<[u16; 3]>,
    /// A recovery's end of the waiting period.
    pub completes_at: Option<i64>,
    pub received_at: i64,
    /// When it stops mattering (a link's expiry, a recovery's completion).
    #[serde(skip)]
    pub ends_at: i64,
}

impl DeviceRequest {
    /// The request an event of the channel makes (`link-request`,
    /// `recovery-started`), `None` for other events or unreadable ones.
    pub fn from_event(event: &str, detail: &Value, exp: i64, now: i64) -> Option<Self> {
        match event {
            "link-request" => {
                let e: LinkRequestEvent = serde_json::from_value(detail.clone()).ok()?;
                Some(Self {
                    kind: DeviceRequestKind::Link,
                    url: e.pairing,
                    device: e.device,
                    name: e.name,
                    ip: e.requester.ip,
                    user_agent: e.requester.user_agent,
                    numbers: Some(e.numbers),
                    completes_at: None,
                    received_at: now,
                    ends_at: exp,
                })
            }
            "recovery-started" => {
                let e: RecoveryStarted = serde_json::from_value(detail.clone()).ok()?;
                Some(Self {
                    kind: DeviceRequestKind::Recovery,
                    url: e.recovery,
                    device: e.device,
                    name: e.name,
                    ip: e.requester.ip,
                    user_agent: e.requester.user_agent,
                    numbers: None,
                    completes_at: Some(e.completes_at),
                    received_at: now,
                    ends_at: e.completes_at,
                })
            }
            _ => None,
        }
    }

    /// Whether it still matters at `now`.
    pub fn is_open(&self, now: i64) -> bool {
        self.ends_at > now
    }

    /// Its native notification.
    pub fn notice(&self) -> DeviceNotice {
        let from = match self
            .user_agent
            .as_deref()
            .filter(|ua| !ua.trim().is_empty())
        {
            Some(ua) => format!("{} ({ua})", self.ip),
            None => self.ip.clone(),
        };
        let (title, body) = match self.kind {
            DeviceRequestKind::Link => (
                "A new device asks to join your Authentiq ID".to_string(),
                format!(
                    "“{}” from {from}.\nOpen Authentiq to approve it by the number it shows, \
                     or deny it if it isn't yours.",
                    self.name
                ),
            ),
            DeviceRequestKind::Recovery => (
                "Someone is recovering your Authentiq ID".to_string(),
                format!(
                    "On “{}”, from {from}.\nIf it isn't you, open Authentiq and cancel it \
                     before it completes.",
                    self.name
                ),
            ),
        };
        DeviceNotice {
            id: self.url.clone(),
            title,
            body,
            expires_at: self.ends_at,
        }
    }
}

/// The open device requests, in the order they came.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceRequests {
    list: Vec<DeviceRequest>,
}

impl DeviceRequests {
    pub fn list(&self) -> Vec<DeviceRequest> {
        self.list.clone()
    }

    /// Adds `r` unless it is there already (or over); whether it is new.
    pub fn add(&mut self, r: DeviceRequest, now: i64) -> bool {
        if !r.is_open(now) || self.list.iter().any(|o| o.url == r.url) {
            return false;
        }
        self.list.push(r);
        true
    }

    /// Drops the request at `url` (withdrawn, answered); whether it was there.
    pub fn remove(&mut self, url: &str) -> bool {
        let before = self.list.len();
        self.list.retain(|r| r.url != url);
        self.list.len() != before
    }

    /// Drops those over at `now`; whether any was.
    pub fn prune(&mut self, now: i64) -> bool {
        let before = self.list.len();
        self.list.retain(|r| r.is_open(now));
        self.list.len() != before
    }

    pub fn clear(&mut self) {
        self.list.clear();
    }

    /// The first time one of them ends, if any.
    pub fn next_end(&self) -> Option<i64> {
        self.list.iter().map(|r| r.ends_at).min()
    }
}

/// A name for this computer to offer when linking or recovering: its host
/// name, else "This computer".
pub fn suggested_device_name(hostname: Option<&str>) -> String {
    hostname
        .map(str::trim)
        .filter(|h| !h.is_empty() && h.len() <= 64 && h != &"localhost")
        .map(str::to_string)
        .unwrap_or_else(|| "This computer".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn link_event() -> Value {
        json!({
            "event": "link-request",
            "pairing": "https://id.example/link/p1",
            "device": "DPK",
            "name": "Work <b>laptop</b>",
            "requester": { "ip": "192.0.2.1", "user_agent": "aq/0.1" },
            "numbers": [12, 47, 83],
        })
    }

    fn recovery_event() -> Value {
        json!({
            "event": "recovery-started",
            "recovery": "https://id.example/recovery/r1",
            "device": "NEW",
            "name": "New laptop",
            "requester": { "ip": "198.51.100.2" },
            "completes_at": 2_000,
        })
    }

    #[test]
    fn events_become_requests_with_their_ends() {
        let link = DeviceRequest::from_event("link-request", &link_event(), 1_600, 1_000).unwrap();
        assert_eq!(link.kind, DeviceRequestKind::Link);
        assert_eq!(link.url, "https://id.example/link/p1");
        assert_eq!(link.numbers, Some([12, 47, 83]));
        assert_eq!(link.user_agent.as_deref(), Some("aq/0.1"));
        assert_eq!((link.received_at, link.ends_at), (1_000, 1_600));
        let json = serde_json::to_value(&link).unwrap();
        assert_eq!(json["kind"], "link");
        assert_eq!(json["completes_at"], Value::Null);
        assert!(json.get("ends_at").is_none());

        let rec =
            DeviceRequest::from_event("recovery-started", &recovery_event(), 1_100, 1_000).unwrap();
        assert_eq!(rec.kind, DeviceRequestKind::Recovery);
        assert_eq!(rec.completes_at, Some(2_000));
        assert_eq!(rec.ends_at, 2_000, "open until it completes");
        assert_eq!(rec.numbers, None);
        assert_eq!(serde_json::to_value(&rec).unwrap()["kind"], "recovery");

        assert!(
            DeviceRequest::from_event("device-removed", &json!({"device": "x"}), 1, 0).is_none()
        );
        assert!(DeviceRequest::from_event("link-request", &json!({"pairing": 3}), 1, 0).is_none());
    }

    #[test]
    fn requests_are_kept_once_and_leave_when_withdrawn_or_over() {
        let link = DeviceRequest::from_event("link-request", &link_event(), 1_600, 1_000).unwrap();
        let rec =
            DeviceRequest::from_event("recovery-started", &recovery_event(), 0, 1_000).unwrap();
        let mut open = DeviceRequests::default();
        assert!(open.add(link.clone(), 1_000));
        assert!(!open.add(link.clone(), 1_001), "a replay is no news");
        assert!(open.add(rec.clone(), 1_000));
        assert_eq!(open.next_end(), Some(1_600));
        assert!(!open.prune(1_599));
        assert!(open.prune(1_600), "the link expired");
        assert_eq!(open.list(), vec![rec.clone()]);
        assert!(!open.remove("https://id.example/link/p1"));
        assert!(open.remove(&rec.url));
        assert!(open.list().is_empty());
        assert!(!open.add(link, 1_600), "over already");
        assert_eq!(open.next_end(), None);
    }

    #[test]
    fn notices_name_the_device_and_where_it_is() {
        let link = DeviceRequest::from_event("link-request", &link_event(), 1_600, 1_000).unwrap();
        let n = link.notice();
        assert_eq!(n.id, link.url);
        assert_eq!(n.expires_at, 1_600);
        assert!(n.title.contains("new device"), "{n:?}");
        assert!(n.body.contains("Work <b>laptop</b>") && n.body.contains("192.0.2.1 (aq/0.1)"));
        let rec =
            DeviceRequest::from_event("recovery-started", &recovery_event(), 0, 1_000).unwrap();
        let n = rec.notice();
        assert!(n.title.contains("recovering"), "{n:?}");
        assert!(n.body.contains("New laptop") && n.body.contains("198.51.100.2."));
    }

    #[test]
    fn the_device_list_reads_the_servers_answer() {
        let list = DeviceList::from_answer(json!({
            "devices": [
                { "device": "A", "name": "Desk", "added_at": 10, "last_used_at": 20 },
                { "device": "B", "name": "Laptop", "added_at": 30 },
            ],
            "this_device": "A",
        }))
        .unwrap();
        assert_eq!(list.this_device, "A");
        assert_eq!(list.devices[1].last_used_at, None);
        assert_eq!(
            serde_json::to_value(&list).unwrap()["devices"][1]["last_used_at"],
            Value::Null
        );
        assert!(DeviceList::from_answer(json!({"devices": 1})).is_err());
    }

    #[test]
    fn a_device_name_is_offered() {
        assert_eq!(suggested_device_name(Some("work-laptop\n")), "work-laptop");
        assert_eq!(suggested_device_name(Some("  ")), "This computer");
        assert_eq!(suggested_device_name(Some("localhost")), "This computer");
        assert_eq!(suggested_device_name(None), "This computer");
    }
}
