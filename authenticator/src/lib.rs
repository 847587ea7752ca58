//! The authenticator's brain: everything the desktop app does, testable
//! without a window. The Tauri shell and the `aq` CLI are thin layers on it.

pub mod identity;

pub use identity::Identity;
