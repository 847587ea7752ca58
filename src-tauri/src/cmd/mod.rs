//! Commands the front end may invoke, one module per area (thin wrappers:
//! the work is in `authentiq-authenticator`; anything that may touch the
//! keyring or SQLite runs on a blocking thread).

pub mod app;
pub mod devices;
pub mod history;
pub mod identity;
pub mod link;
pub mod recover;
pub mod requests;
pub mod sessions;
pub mod settings;
pub mod status;
