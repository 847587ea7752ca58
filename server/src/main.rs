//! `authentiq-server`: the command line is in the library
//! ([`authentiq_server::cli`]); this only runs it.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    authentiq_server::cli::main().await
}
