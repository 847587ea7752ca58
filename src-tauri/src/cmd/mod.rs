//! Commands the front end may invoke, one module per area.

pub mod app;
