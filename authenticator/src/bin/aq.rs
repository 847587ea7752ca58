//! `aq`: the Authentiq authenticator in a terminal.

#[path = "aq/devices.rs"]
mod devices;

use std::process::ExitCode;
use std::sync::Arc;

use authentiq_authenticator::app::{self, AppError, Authenticator, Incoming};
use authentiq_authenticator::client::ClientError;
use authentiq_authenticator::keystore::{KeyStoreError, OsKeyring};
use authentiq_authenticator::local::Request;
use authentiq_authenticator::notifier::{DesktopNotifier, Notice, notify_or_log};
use authentiq_protocol::payloads::ClaimScope;
use clap::{Parser, Subcommand};
use serde_json::{Value, json};

#[derive(Debug, Parser)]
#[command(
    name = "aq",
    version,
    about = "Authentiq in your terminal: your passwordless sign-in key, verified email and phone, and sign-in approvals.",
    after_help = "Examples:
  aq init --server https://id.example.com      create your Authentiq ID (shows the revocation secret once)
  aq verify email me@example.com               send a code to the address
  aq verify email me@example.com --code 123456 confirm it
  aq watch                                     wait for sign-in requests (notifies)
  aq inbox                                     list pending requests
  aq approve 7 --number 47 --share phone       approve request 7, picking the number shown on the page
  aq approve 8                                 approve request 8, started by the website's backend with
                                               no page (backchannel): no number, check its message first
  aq deny 7 --report                           deny, and report it was not you
  aq signout --all                             sign out everywhere: end every session and refresh token
                                               of your ID; websites that asked for it are told
  aq revoke --secret - < secret.txt            revoke, the secret read from standard input
                                               (typed or piped: never in shell history or ps)

Exit codes: 0 ok, 1 error, 2 usage (also: approve without --number, or with it for a backchannel
request), 3 keyring unavailable or locked, 4 refused by the server, 5 server unreachable, 6 no such
or expired request, 7 no identity yet."
)]
struct Cli {
    /// Where profiles are kept (default: $AQ_HOME, $XDG_DATA_HOME/authentiq or ~/.local/share/authentiq).
    #[arg(long, global = true, env = "AQ_HOME")]
    home: Option<std::path::PathBuf>,
    /// One identity per profile.
    #[arg(long, global = true, default_value = "default", env = "AQ_PROFILE")]
    profile: String,
    /// Machine-readable output.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create your Authentiq ID on a server.
    Init {
        #[arg(long)]
        server: String,
    },
    /// Show your Authentiq ID, with a QR code.
    Id,
    /// Verify an email address or phone number.
    Verify {
        #[command(subcommand)]
        what: Verify,
    },
    /// List pending requests — sign-ins, verifications, re-authentications —
    /// after catching up with the server.
    Inbox,
    /// Approve a request with the number shown on the sign-in page; a
    /// backchannel request (started by the website's backend: no page, no
    /// number) without one, once its message is what the website shows.
    Approve {
        id: String,
        /// The number shown on the sign-in page (one of the request's three).
        /// Not for a backchannel request: it has none.
        #[arg(long)]
        number: Option<u16>,
        /// Share an optional claim too (required ones are always shared). Repeatable.
        #[arg(long)]
        share: Vec<String>,
        /// Remember this browser: next time the request comes by itself.
        #[arg(long)]
        remember: bool,
    },
    /// Deny a request.
    Deny {
        id: String,
        /// Report it: this wasn't me.
        #[arg(long)]
        report: bool,
    },
    /// Open a request from its QR code or link: the session URI, or an
    /// `authentiq://sign-in?session=…` link.
    Open { session: String },
    /// Stay connected and show requests as they arrive (with a notification).
    Watch,
    /// Sign out everywhere (--all): end every session and token of your ID at every website.
    ///
    /// The server ends every sign-in session and every refresh token of your
    /// Authentiq ID, and tells the websites that registered for it
    /// (back-channel logout). Websites then ask you to sign in again; the ID
    /// stays. Exit codes as for every command (4: the server refused).
    Signout {
        /// Every session and token of the ID, everywhere (the only kind: aq
        /// holds no browser sessions of its own).
        #[arg(long)]
        all: bool,
    },
    /// Your decisions.
    History {
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Link this computer to an existing Authentiq ID: shows a number that a
    /// device of the ID approves (`aq devices approve`), then waits.
    Link {
        #[arg(long)]
        server: String,
        /// The ID to link to.
        #[arg(long, allow_hyphen_values = true)]
        id: String,
        /// What to call this device.
        #[arg(long, default_value = "Linked device")]
        name: String,
    },
    /// The ID's devices: list, rename, remove; approve or deny a new one.
    Devices {
        #[command(subcommand)]
        what: Option<devices::Devices>,
    },
    /// Recover your ID on a new device when every device is lost: the
    /// recovery secret and the codes sent to its email (and phone); it
    /// completes after a waiting period during which its devices may cancel.
    Recover {
        #[command(subcommand)]
        what: devices::Recover,
    },
    /// Revoke your Authentiq ID: with its revocation secret, or — device
    /// lost — with the email and phone bound to it (a code is emailed first).
    Revoke {
        /// The revocation secret, or `-` to read it from standard input (a
        /// secret on the command line is seen by `ps` and kept in your
        /// shell's history).
        #[arg(
            long,
            value_name = "SECRET|-",
            allow_hyphen_values = true,
            conflicts_with_all = ["email", "phone"],
            required_unless_present = "email"
        )]
        secret: Option<String>,
        #[arg(long, requires = "phone")]
        email: Option<String>,
        #[arg(long, requires = "email")]
        phone: Option<String>,
        /// The code from the email (second call).
        #[arg(long, requires = "email")]
        code: Option<String>,
        /// The server, when this device has no profile for it.
        #[arg(long)]
        server: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum Verify {
    /// Send a code to ADDR, or confirm with --code.
    Email {
        addr: String,
        #[arg(long)]
        code: Option<String>,
        /// Ask the server to keep the code in its outbox (test servers).
        #[arg(long, hide = true)]
        test: bool,
    },
    /// Send a code to NUMBER (international form, +…), or confirm with --code.
    Phone {
        number: String,
        #[arg(long)]
        code: Option<String>,
        #[arg(long, hide = true)]
        test: bool,
    },
}

/// The exit code of a usage error (clap's too).
const USAGE: u8 = 2;

/// What clap cannot say: arguments that parse but ask for nothing aq does.
fn usage_problem(command: &Command) -> Option<&'static str> {
    match command {
        Command::Signout { all: false } => Some(
            "`aq signout` needs --all: it signs your ID out everywhere (every website's \
             session and refresh token). aq holds no browser sessions of its own, so there is no \
             narrower sign-out; to leave one website, sign out there.",
        ),
        _ => None,
    }
}

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

#[allow(clippy::print_stdout)] // a CLI prints
fn show(json: bool, value: serde_json::Value, text: impl FnOnce() -> String) {
    if json {
        println!("{value}");
    } else {
        println!("{}", text());
    }
}

fn when(t: i64) -> String {
    let secs = t - app::now();
    if secs > 0 {
        format!("expires in {}:{:02}", secs / 60, secs % 60)
    } else {
        "expired".into()
    }
}

/// A request as `--json` shows it: the inbox's record, with its `label`
/// ("Sign in to X", "Verify your details for X", "Confirm it's you for X").
fn request_json(r: &Request) -> Value {
    let mut v = json!(r);
    if let Some(o) = v.as_object_mut() {
        o.insert("label".into(), json!(r.label()));
    }
    v
}

/// What `aq approve` / `aq deny` did, as `--json` shows it.
fn answered_json(r: &Request, result: &str) -> Value {
    json!({
        "id": r.id,
        "result": result,
        "purpose": r.purpose,
        "backchannel": r.backchannel,
        "binding_message": r.binding_message,
        "label": r.label(),
    })
}

fn describe(r: &Request) -> String {
    let head = format!(
        "{}  {}{}\n        from {} ({})\n        asks for: {}",
        r.id,
        r.label(),
        r.client_uri
            .as_deref()
            .map(|u| format!(" <{u}>"))
            .unwrap_or_default(),
        r.ip,
        r.user_agent.as_deref().unwrap_or(if r.backchannel {
            "unknown client"
        } else {
            "unknown browser"
        }),
        r.scope,
    );
    match r.binding_check() {
        // No page shows a number: what to check is the client's message.
        Some(check) => format!(
            "{head}\n        backchannel: started by {}'s backend, no number to match\n        \
             {check}   {}\n        approve with: aq approve {}",
            r.client_name,
            when(r.expires_at),
            r.id,
        ),
        None => format!(
            "{head}\n        numbers: {} {} {}   {}",
            r.numbers[0],
            r.numbers[1],
            r.numbers[2],
            when(r.expires_at),
        ),
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
