//! `aq link`, `aq devices` and `aq recover`: several devices per ID.

use std::path::Path;
use std::sync::Arc;

use authentiq_authenticator::app::{AppError, Authenticator};
use authentiq_authenticator::keystore::KeyStore;
use clap::Subcommand;
use serde_json::{Value, json};

use super::output::show;
use super::secret_from_stdin;

#[derive(Debug, Subcommand)]
pub enum Devices {
    /// The ID's devices (the default).
    List,
    /// Rename a device (by its key, from `aq devices`).
    Rename {
        // IDs and keys are base64url: one may start with `-`.
        #[arg(allow_hyphen_values = true)]
        device: String,
        name: String,
    },
    /// Remove a device: its key stops working at once (not the last one).
    Remove {
        #[arg(allow_hyphen_values = true)]
        device: String,
    },
    /// Approve linking a new device, with the number it shows.
    Approve {
        /// The pairing URL (from `aq watch` or the new device).
        pairing: String,
        #[arg(long)]
        number: u16,
    },
    /// Refuse linking a new device.
    Deny { pairing: String },
}

#[derive(Debug, Subcommand)]
pub enum Recover {
    /// On a new device: start recovering the ID (codes go to its email and phone).
    Start {
        #[arg(long)]
        server: String,
        /// The ID to recover.
        #[arg(long, allow_hyphen_values = true)]
        id: String,
        /// What to call this device.
        #[arg(long, default_value = "Recovered device")]
        name: String,
        /// The email the ID verified.
        #[arg(long)]
        email: String,
        /// The phone the ID verified, when it has one.
        #[arg(long)]
        phone: Option<String>,
        /// The recovery secret, or `-` to read it from standard input.
        #[arg(long, value_name = "SECRET|-", allow_hyphen_values = true)]
        secret: String,
    },
    /// Give the codes; the recovery then waits out its delay.
    Confirm {
        recovery: String,
        #[arg(long)]
        code: String,
        #[arg(long)]
        phone_code: Option<String>,
    },
    /// Complete it after the delay: shows the new recovery secret.
    Complete { recovery: String },
    /// From a device of the ID: cancel a recovery (it was not you).
    Cancel { recovery: String },
}

/// `aq link`: on the new device, before it has a profile.
pub async fn link(
    home: &Path,
    profile: &str,
    keystore: Arc<dyn KeyStore>,
    (server, id, name): (&str, &str, &str),
    json: bool,
) -> Result<(), AppError> {
    let app = Authenticator::link(home, profile, server, id, name, keystore, &mut |s| {
        show(
            json,
            json!({ "status": "pending", "pairing": s.pairing, "number": s.number }),
            || {
                format!(
                    "Your number: {}\nOn a device of this ID, approve it:\n    aq devices approve {} --number {}\nWaiting…",
                    s.number, s.pairing, s.number
                )
            },
        )
    })
    .await?;
    let pk = app.profile().pk.clone();
    show(json, json!({ "status": "linked", "id": pk }), || {
        format!("Linked: this device signs for {pk}.")
    });
    Ok(())
}

/// `aq recover start`: on the new device, before it has a profile.
pub async fn recover_start(
    home: &Path,
    profile: &str,
    keystore: Arc<dyn KeyStore>,
    cmd: &Recover,
    json: bool,
) -> Result<(), AppError> {
    let Recover::Start {
        server,
        id,
        name,
        email,
        phone,
        secret,
    } = cmd
    else {
        return Ok(());
    };
    let secret = match secret.as_str() {
        "-" => secret_from_stdin()?,
        s => s.to_owned(),
    };
    let (_, v) = Authenticator::recover(
        home,
        profile,
        server,
        id,
        name,
        email,
        phone.as_deref(),
        secret.trim(),
        keystore,
    )
    .await?;
    let url = v["recovery"].as_str().unwrap_or_default().to_string();
    show(json, v, || {
        format!("Codes were sent. Then: aq recover confirm {url} --code XXXXXX")
    });
    Ok(())
}

fn describe_devices(v: &Value) -> String {
    let this = v["this_device"].as_str().unwrap_or_default();
    v["devices"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|d| {
                    let key = d["device"].as_str().unwrap_or_default();
                    format!(
                        "{key}  {}{}",
                        d["name"].as_str().unwrap_or_default(),
                        if key == this { "  (this device)" } else { "" }
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// `aq devices …` on a device of the ID.
pub async fn devices(
    app: &Authenticator,
    cmd: Option<Devices>,
    json: bool,
) -> Result<(), AppError> {
    match cmd.unwrap_or(Devices::List) {
        Devices::List => {
            let v = app.devices().await?;
            let text = describe_devices(&v);
            show(json, v, || text);
        }
        Devices::Rename { device, name } => {
            app.rename_device(&device, &name).await?;
            show(json, json!({ "result": "renamed" }), || {
                format!("Renamed to {name}.")
            });
        }
        Devices::Remove { device } => {
            app.remove_device(&device).await?;
            show(json, json!({ "result": "removed" }), || {
                "Removed: that device's key no longer works.".into()
            });
        }
        Devices::Approve { pairing, number } => {
            let v = app.answer_link(&pairing, Some(number)).await?;
            show(json, v, || "Approved: the new device is linked.".into());
        }
        Devices::Deny { pairing } => {
            let v = app.answer_link(&pairing, None).await?;
            show(json, v, || "Refused.".into());
        }
    }
    Ok(())
}

/// `aq recover confirm|complete|cancel` with a profile.
pub async fn recover(app: &Authenticator, cmd: Recover, json: bool) -> Result<(), AppError> {
    let v = match cmd {
        Recover::Start { .. } => return Ok(()),
        Recover::Confirm {
            recovery,
            code,
            phone_code,
        } => {
            app.recovery_confirm(&recovery, code.trim(), phone_code.as_deref())
                .await?
        }
        Recover::Complete { recovery } => app.recovery_complete(&recovery).await?,
        Recover::Cancel { recovery } => app.recovery_cancel(&recovery).await?,
    };
    let text = match v["status"].as_str() {
        Some("waiting") => format!(
            "Announced to the ID's devices; completes at {} unless one cancels it.",
            v["completes_at"]
        ),
        Some("completed") => format!(
            "Recovered: this device is the ID's device now.\nNew recovery secret (shown only now):\n\n    {}",
            v["secret"].as_str().unwrap_or_default()
        ),
        Some(other) => format!("Recovery {other}."),
        None => v.to_string(),
    };
    show(json, v, || text);
    Ok(())
}
