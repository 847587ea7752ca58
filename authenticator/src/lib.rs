//! The authenticator's brain: everything the desktop app does, testable
//! without a window. The Tauri shell and the `aq` CLI are thin layers on it.

pub mod app;
pub mod client;
pub mod devices;
pub mod events;
pub mod identity;
pub mod keystore;
pub mod local;
pub mod notifier;
pub mod purpose;
pub mod sse;

pub use app::Authenticator;
pub use identity::Identity;
