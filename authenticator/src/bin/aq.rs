//! `aq`: the Authentiq authenticator in a terminal.
//!
//! This file runs a command: exit codes, `main` and [`run`], which does
//! each command; its arguments are in `aq/cli.rs`, what it prints in
//! `aq/output.rs`, and `aq link`, `aq devices` and `aq recover` in
//! `aq/devices.rs`.

#[path = "aq/cli.rs"]
mod cli;
#[path = "aq/devices.rs"]
mod devices;
#[path = "aq/output.rs"]
mod output;

use std::process::ExitCode;
use std::sync::Arc;

use authentiq_authenticator::app::{self, AppError, Authenticator, Incoming};
use authentiq_authenticator::client::ClientError;
use authentiq_authenticator::keystore::{KeyStoreError, OsKeyring};
use authentiq_authenticator::notifier::{DesktopNotifier, Notice, notify_or_log};
use authentiq_protocol::payloads::ClaimScope;
use clap::Parser;
use serde_json::{Value, json};

use cli::{Cli, Command, Verify, usage_problem};
use output::{answered_json, describe, request_json, show};

/// The exit code of a usage error (clap's too).
const USAGE: u8 = 2;
fn exit_code(e: &AppError) -> u8 {
    match e {
        AppError::KeyStore(KeyStoreError::NoSecretService(_) | KeyStoreError::Locked(_)) => 3,
        AppError::Server(ClientError::Refused { .. }) => 4,
        AppError::Server(ClientError::Network { .. }) => 5,
        AppError::UnknownRequest(_) | AppError::Expired(_) | AppError::NotACandidate(..) => 6,
        AppError::NumberRequired(..) | AppError::NoNumberToMatch(..) => USAGE,
        AppError::NoProfile | AppError::KeyMissing => 7,
        _ => 1,
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AQ_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let cli = Cli::parse();
    let json = cli.json;
    if let Some(why) = usage_problem(&cli.command) {
        if json {
            eprintln!("{}", json!({ "error": why, "code": USAGE }));
        } else {
            eprintln!("aq: {why}");
        }
        return ExitCode::from(USAGE);
    }
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if json {
                eprintln!(
                    "{}",
                    json!({ "error": e.to_string(), "code": exit_code(&e) })
                );
            } else {
                eprintln!("aq: {e}");
            }
            ExitCode::from(exit_code(&e))
        }
    }
}
async fn run(cli: Cli) -> Result<(), AppError> {
    let home = cli.home.clone().unwrap_or_else(app::default_home);
    let keystore = Arc::new(OsKeyring::new());
    let json = cli.json;
    if let Command::Init { server } = &cli.command {
        let (app, secret) = Authenticator::init(&home, &cli.profile, server, keystore).await?;
        let pk = app.profile().pk.clone();
        show(
            json,
            json!({ "id": pk, "server": app.profile().server, "revocation_secret": secret }),
            || {
                format!(
                    "Your Authentiq ID: {pk}\n\nRevocation secret (shown only now — keep it somewhere safe;\n\
                 it revokes this ID if you lose this device):\n\n    {secret}\n\n\
                 Next: aq verify email you@example.com"
                )
            },
        );
        return Ok(());
    }
    if let Command::Link { server, id, name } = &cli.command {
        let args = (server.as_str(), id.as_str(), name.as_str());
        return devices::link(&home, &cli.profile, keystore, args, json).await;
    }
    if let Command::Recover {
        what: what @ devices::Recover::Start { .. },
    } = &cli.command
    {
        return devices::recover_start(&home, &cli.profile, keystore, what, json).await;
    }
    if let Command::Revoke {
        email: Some(email),
        phone: Some(phone),
        code,
        server,
        ..
    } = &cli.command
    {
        // Works without the device's key: that is the point.
        let profile = Authenticator::open(&home, &cli.profile, keystore.clone()).ok();
        let server = match (server, &profile) {
            (Some(s), _) => s.clone(),
            (None, Some(p)) => p.profile().server.clone(),
            (None, None) => {
                return Err(AppError::Io(
                    "give --server: this device has no profile".into(),
                ));
            }
        };
        let client = authentiq_authenticator::client::ServerClient::new(&server)?;
        let status = client
            .revoke_by_email(email, phone, code.as_deref())
            .await?;
        if status == "done"
            && let Some(p) = &profile
            && matches!(
                p.status().await,
                Err(AppError::Server(ClientError::Refused { status: 410, .. }))
            )
        {
            p.forget()?;
        }
        show(json, json!({ "result": status }), || {
            match status.as_str() {
                "pending" => {
                    format!("A code was sent to {email}. Run again with --code XXXXXX to revoke.")
                }
                _ => "Revoked.".into(),
            }
        });
        return Ok(());
    }
    let app = Authenticator::open(&home, &cli.profile, keystore)?;
    match cli.command {
        Command::Init { .. } | Command::Link { .. } => Ok(()),
        Command::Devices { what } => devices::devices(&app, what, json).await,
        Command::Recover { what } => devices::recover(&app, what, json).await,
        Command::Id => {
            app.identity()?; // the key must be there
            let p = app.profile();
            let grants = app.grants()?;
            show(
                json,
                json!({ "id": p.pk, "server": p.server, "verified": grants }),
                || {
                    let verified: Vec<String> = grants
                        .iter()
                        .map(|g| format!("{}: {} (verified)", g.scope, g.value))
                        .collect();
                    format!(
                        "{}\nAuthentiq ID: {}\nServer: {}\n{}",
                        app.id_qr(),
                        p.pk,
                        p.server,
                        verified.join("\n")
                    )
                },
            );
            Ok(())
        }
        Command::Verify { what } => {
            let (scope, value, code, test) = match what {
                Verify::Email { addr, code, test } => (ClaimScope::Email, addr, code, test),
                Verify::Phone { number, code, test } => (ClaimScope::Phone, number, code, test),
            };
            match code {
                None => {
                    let job = app.verify_start(scope, &value, test).await?;
                    show(json, json!({ "job": job, "status": "waiting" }), || {
                        format!(
                            "A code is on its way to {value}.\nEnter it with: aq verify {} {value} --code XXXXXX",
                            scope.as_str()
                        )
                    });
                }
                Some(code) => {
                    let job = app
                        .pending_job(scope, &value)?
                        .ok_or_else(|| AppError::Io(format!("no code was sent to {value} from here: run `aq verify {} {value}` first", scope.as_str())))?;
                    let g = app.verify_finish(scope, &job, code.trim()).await?;
                    show(
                        json,
                        json!({ "scope": g.scope, "value": g.value, "verified": true, "expires": g.exp }),
                        || format!("Verified {}: {}", g.scope, g.value),
                    );
                }
            }
            Ok(())
        }
        Command::Inbox => {
            app.sync().await?;
            let pending = app.inbox()?;
            let list: Vec<Value> = pending.iter().map(request_json).collect();
            show(json, json!(list), || {
                if pending.is_empty() {
                    "No pending requests.".into()
                } else {
                    pending
                        .iter()
                        .map(describe)
                        .collect::<Vec<_>>()
                        .join("\n\n")
                }
            });
            Ok(())
        }
        Command::Approve {
            id,
            number,
            share,
            remember,
        } => {
            app.sync().await?;
            let r = app.approve(&id, number, &share, remember).await?;
            show(json, answered_json(&r, "approved"), || {
                format!("Approved {id}: {}.", r.label())
            });
            Ok(())
        }
        Command::Deny { id, report } => {
            app.sync().await?;
            let r = app.deny(&id, report).await?;
            show(
                json,
                answered_json(&r, if report { "reported" } else { "denied" }),
                || {
                    if report {
                        format!("Denied {id} ({}) and reported it.", r.label())
                    } else {
                        format!("Denied {id}: {}.", r.label())
                    }
                },
            );
            Ok(())
        }
        Command::Open { session } => {
            let r = app.open_session(&app::session_of_link(&session)?).await?;
            show(json, request_json(&r), || describe(&r));
            Ok(())
        }
        Command::Watch => {
            let notifier = DesktopNotifier::new();
            if !json {
                show(false, json!(null), || {
                    format!(
                        "Watching for sign-in requests for {} (Ctrl-C to stop)…",
                        app.profile().pk
                    )
                });
            }
            app.watch(&mut |i| match i {
                Incoming::Request(r) => {
                    notify_or_log(&notifier, &Notice::from(&*r));
                    show(
                        json,
                        json!({ "event": "sign-in", "request": request_json(&r) }),
                        || format!("\n{}", describe(&r)),
                    );
                }
                Incoming::ScopeJob { job, status } => {
                    show(
                        json,
                        json!({ "event": "scope-job", "job": job, "status": status }),
                        || format!("Verification {job}: {status}"),
                    );
                }
                Incoming::Revoked(_) => {
                    show(json, json!({ "event": "key-revoked" }), || {
                        "This Authentiq ID was revoked.".into()
                    });
                }
                Incoming::Device { event, detail, .. } => {
                    let text = match event.as_str() {
                        "link-request" => format!(
                            "\nA new device asks to join this ID: {} from {}\n        numbers: {}\n        approve with: aq devices approve {} --number N",
                            detail["name"], detail["requester"]["ip"], detail["numbers"], detail["pairing"].as_str().unwrap_or_default()
                        ),
                        "recovery-started" => format!(
                            "\nSomeone is recovering this ID on {} ({}); it completes at {}.\n        not you? aq recover cancel {}",
                            detail["name"], detail["requester"]["ip"], detail["completes_at"], detail["recovery"].as_str().unwrap_or_default()
                        ),
                        _ => format!("{event}: {detail}"),
                    };
                    show(json, json!({ "event": event, "detail": detail }), || text);
                }
            })
            .await
        }
        Command::Signout { .. } => {
            let told = app.sign_out_everywhere().await?;
            show(
                json,
                json!({ "result": "signed-out", "clients_told": told }),
                || {
                    let told = match told {
                        0 => String::new(),
                        1 => " 1 website was told.".into(),
                        n => format!(" {n} websites were told."),
                    };
                    format!(
                        "Signed out everywhere: every session and refresh token of this ID has ended.{told}"
                    )
                },
            );
            Ok(())
        }
        Command::History { limit } => {
            let h = app.history(limit)?;
            let list: Vec<Value> = h
                .iter()
                .map(|d| {
                    let mut v = json!(d);
                    if let Some(o) = v.as_object_mut() {
                        o.insert("label".into(), json!(d.label()));
                    }
                    v
                })
                .collect();
            show(json, json!(list), || {
                if h.is_empty() {
                    return "No decisions yet.".into();
                }
                h.iter()
                    .map(|d| {
                        let message = d
                            .binding_message
                            .as_deref()
                            .map(|m| format!("  message: {m}"))
                            .unwrap_or_default();
                        format!(
                            "{}  {:<9} {}  from {}{message}",
                            d.decided_at,
                            d.result,
                            d.label(),
                            d.ip
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            Ok(())
        }
        Command::Revoke { secret, .. } => {
            let secret = match secret.as_deref() {
                Some("-") => secret_from_stdin()?,
                other => other.unwrap_or_default().to_owned(),
            };
            app.revoke(secret.trim()).await?;
            show(json, json!({ "result": "revoked" }), || {
                "Revoked. The key was removed from the keyring.".into()
            });
            Ok(())
        }
    }
}

/// `--secret -`: the first line of standard input (asked for on a terminal).
fn secret_from_stdin() -> Result<String, AppError> {
    use std::io::{BufRead as _, IsTerminal as _, Write as _};
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let mut err = std::io::stderr();
        let _ = write!(err, "Revocation secret: ");
        let _ = err.flush();
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| AppError::Io(format!("reading the revocation secret: {e}")))?;
    let secret = line.trim();
    if secret.is_empty() {
        return Err(AppError::Io(
            "no revocation secret on standard input (`--secret -` reads it from there)".into(),
        ));
    }
    Ok(secret.to_owned())
}
