//! The server's log: `RUST_LOG` filters it (`info` by default), and
//! `log_format` (`AUTHENTIQ_LOG_FORMAT`) makes it human-readable text or
//! one JSON object a line for log shippers. The access log is its target
//! `authentiq::access` (see [`crate::metrics::access_log`]).

use serde::{Deserialize, Serialize};
use tracing::Dispatch;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    /// One JSON object a line: `timestamp`, `level`, `target`, the event's
    /// fields (`message` among them) and `span`, the request it is about.
    Json,
}

/// The `RUST_LOG` filter, `info` when it is unset or invalid.
pub fn env_filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

/// The log the server writes to `writer` in `format`; `ansi` colours text.
pub fn dispatch<W>(format: LogFormat, filter: EnvFilter, writer: W, ansi: bool) -> Dispatch
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Text => Dispatch::new(builder.with_ansi(ansi).finish()),
        LogFormat::Json => Dispatch::new(
            builder
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .finish(),
        ),
    }
}

/// Installs the process's log (on standard output, as before), once.
pub fn init(format: LogFormat) {
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    // A second call (a test, an embedding program with its own) keeps the first.
    let _ = dispatch(format, env_filter(), std::io::stdout, ansi).try_init();
}

#[cfg(test)]
// Test code; figment::Jail's closures return figment::Error.
#[allow(clippy::unwrap_used, clippy::result_large_err)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn format_and_metrics_listener_come_from_the_environment() {
        figment::Jail::expect_with(|jail| {
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(c.log_format, LogFormat::Text);
            assert_eq!(c.metrics_listen, None);
            jail.set_env("AUTHENTIQ_LOG_FORMAT", "json");
            jail.set_env("AUTHENTIQ_METRICS_LISTEN", "127.0.0.1:9100");
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(c.log_format, LogFormat::Json);
            assert_eq!(c.metrics_listen, Some("127.0.0.1:9100".parse().unwrap()));
            jail.set_env("AUTHENTIQ_LOG_FORMAT", "xml");
            assert!(Config::load(None).is_err(), "an unknown format is refused");
            Ok(())
        });
    }
}
