//! What the end-to-end tests share: the provider in process, a device
//! played with the protocol crate, and Chromium driven by a Node script.

pub mod chromium;
pub mod device;
pub mod provider;
