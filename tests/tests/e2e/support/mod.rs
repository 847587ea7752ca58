//! What the end-to-end tests share: the provider in process, and a device
//! played with the protocol crate.

pub mod device;
pub mod provider;
