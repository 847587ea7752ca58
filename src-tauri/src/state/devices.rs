//! The app state's part for several devices per ID: a link of this
//! computer in progress, a recovery in progress here, and the link
//! requests and recoveries other devices' users started.

use std::sync::Arc;

use authentiq_authenticator::Authenticator;

use super::{AppState, lock};
use crate::device_views::{DeviceRequest, LinkingView, RecoveringView};

/// A link in progress.
#[derive(Debug, Default)]
pub(super) struct Linking {
    shown: Option<LinkingView>,
    cancel: Option<tokio::sync::oneshot::Sender<()>>,
}

/// A recovery in progress on this computer.
#[derive(Debug, Clone)]
pub struct Recovering {
    pub app: Arc<Authenticator>,
    pub view: RecoveringView,
}

impl AppState {
    /// Starts a link (`cancel` stops it); `false` when one runs already.
    pub fn begin_link(&self, cancel: tokio::sync::oneshot::Sender<()>) -> bool {
        let mut linking = lock(&self.linking);
        if linking.is_some() {
            return false;
        }
        *linking = Some(Linking {
            shown: None,
            cancel: Some(cancel),
        });
        true
    }

    /// The running link got its number.
    pub fn link_shown(&self, view: LinkingView) {
        if let Some(l) = lock(&self.linking).as_mut() {
            l.shown = Some(view);
        }
    }

    /// The running link, once it has its number.
    pub fn linking(&self) -> Option<LinkingView> {
        lock(&self.linking).as_ref().and_then(|l| l.shown.clone())
    }

    pub fn is_linking(&self) -> bool {
        lock(&self.linking).is_some()
    }

    /// Asks the running link to stop; whether one ran.
    pub fn cancel_link(&self) -> bool {
        let cancel = lock(&self.linking).as_mut().and_then(|l| l.cancel.take());
        cancel.is_some_and(|c| c.send(()).is_ok())
    }

    /// The link is over (either way).
    pub fn end_link(&self) {
        *lock(&self.linking) = None;
    }

    pub fn recovering(&self) -> Option<Recovering> {
        lock(&self.recovering).clone()
    }

    pub fn set_recovering(&self, r: Option<Recovering>) {
        *lock(&self.recovering) = r;
    }

    /// The open device requests.
    pub fn device_requests(&self) -> Vec<DeviceRequest> {
        lock(&self.device_requests).list()
    }

    /// Keeps a new device request; whether it is new.
    pub fn add_device_request(&self, r: DeviceRequest, now: i64) -> bool {
        lock(&self.device_requests).add(r, now)
    }

    /// Drops the device request at `url`; whether it was open.
    pub fn remove_device_request(&self, url: &str) -> bool {
        lock(&self.device_requests).remove(url)
    }

    /// Drops the device requests over at `now`; whether any was; and when
    /// the next one ends.
    pub fn prune_device_requests(&self, now: i64) -> (bool, Option<i64>) {
        let mut open = lock(&self.device_requests);
        (open.prune(now), open.next_end())
    }
}
